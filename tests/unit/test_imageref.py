"""Image references: upstream's normalization, default tag, default pull policy and error texts."""

from __future__ import annotations

import pytest

from kubeherd.kubelet.imageref import (
    InvalidImageName,
    default_pull_policy,
    parse_image_name,
    with_default_tag,
)


@pytest.mark.parametrize(("image", "name", "tag", "pulled_as", "policy"), [
    ("busybox", "docker.io/library/busybox", "latest", "busybox:latest", "Always"),
    ("busybox:1.36", "docker.io/library/busybox", "1.36", "busybox:1.36", "IfNotPresent"),
    ("busybox:latest", "docker.io/library/busybox", "latest", "busybox:latest", "Always"),
    ("index.docker.io/team/app", "docker.io/team/app", "latest", "index.docker.io/team/app:latest", "Always"),
    ("localhost/kubeherd/busybox:1.36", "localhost/kubeherd/busybox", "1.36", "localhost/kubeherd/busybox:1.36",
     "IfNotPresent"),
    ("127.0.0.1:5000/kubeherd/busybox:1.36", "127.0.0.1:5000/kubeherd/busybox", "1.36",
     "127.0.0.1:5000/kubeherd/busybox:1.36", "IfNotPresent"),
    ("registry.example:5000/a/b", "registry.example:5000/a/b", "latest", "registry.example:5000/a/b:latest", "Always"),
])
def test_references_normalize_as_upstream(image: str, name: str, tag: str, pulled_as: str, policy: str) -> None:
    ref = parse_image_name(image)
    assert (ref.name, ref.tag) == (name, tag)
    assert with_default_tag(image) == pulled_as
    assert default_pull_policy(image) == policy


def test_a_digest_needs_no_tag_and_defaults_to_if_not_present() -> None:
    image = "busybox@sha256:" + "ab" * 32
    ref = parse_image_name(image)
    assert ref.digest == "sha256:" + "ab" * 32 and ref.tag == ""
    assert with_default_tag(image) == image
    assert default_pull_policy(image) == "IfNotPresent"


@pytest.mark.parametrize(("image", "message"), [
    ("kubeherd/Invalid:1", 'couldn\'t parse image name "kubeherd/Invalid:1": invalid reference format: '
                           "repository name (kubeherd/Invalid) must be lowercase"),
    ("UPPER", 'couldn\'t parse image name "UPPER": invalid reference format: repository name (library/UPPER) '
              "must be lowercase"),
    ("busybox::1", 'couldn\'t parse image name "busybox::1": invalid reference format'),
    ("busybox@sha256:abcd", 'couldn\'t parse image name "busybox@sha256:abcd": invalid reference format'),
    ("busybox@sha256:" + "a" * 40, f'couldn\'t parse image name "busybox@sha256:{"a" * 40}": '
                                   "invalid checksum digest length"),
    ("a" * 64, f'couldn\'t parse image name "{"a" * 64}": invalid repository name ({"a" * 64}), cannot specify '
               "64-byte hexadecimal strings"),
])
def test_invalid_references_give_upstreams_messages(image: str, message: str) -> None:
    with pytest.raises(InvalidImageName) as info:
        with_default_tag(image)
    assert str(info.value) == message
    assert default_pull_policy(image) == "IfNotPresent"
