"""Image references as the kubelet reads them: Docker's reference grammar, normalized names.

The kubelet parses ``container.image`` before anything else: an unparseable reference is the
pod's ``InvalidImageName``; a reference with neither tag nor digest is pulled as ``:latest``;
the normalized name (``busybox`` → ``docker.io/library/busybox``) is what pull credentials are
matched against; and the API's default ``imagePullPolicy`` (``Always`` for ``:latest`` or no
tag, else ``IfNotPresent``) follows from the tag. The grammar and the error texts are those of
the reference library upstream uses (``github.com/distribution/reference``), because they
reach the user in pod status messages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_REPO_PREFIX = "library/"
NAME_TOTAL_LENGTH_MAX = 255

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_NAME = rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_REFERENCE = re.compile(rf"^({_NAME})(?::({_TAG}))?(?:@({_DIGEST}))?$")
_IDENTIFIER = re.compile(r"^[a-f0-9]{64}$")
_DIGEST_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}


class InvalidImageName(ValueError):
    """``container.image`` is not a valid reference; the message is upstream's."""


@dataclass(frozen=True)
class ImageName:
    domain: str  # docker.io, 127.0.0.1:5000, registry.example
    path: str  # library/busybox
    tag: str = ""
    digest: str = ""

    @property
    def name(self) -> str:
        """The normalized repository, ``docker.io/library/busybox``: what credentials match."""
        return f"{self.domain}/{self.path}"


def _split_domain(name: str) -> tuple[str, str]:
    i = name.find("/")
    first = name[:i] if i >= 0 else ""
    if i < 0 or (not any(c in first for c in ".:") and first != "localhost" and first.lower() == first):
        domain, rest = DEFAULT_DOMAIN, name
    else:
        domain, rest = first, name[i + 1:]
    if domain == LEGACY_DEFAULT_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in rest:
        rest = OFFICIAL_REPO_PREFIX + rest
    return domain, rest


def _parse(ref: str) -> tuple[str, str, str]:
    match = _REFERENCE.match(ref)
    if match is None:
        if not ref:
            raise InvalidImageName("repository name must have at least one component")
        if _REFERENCE.match(ref.lower()) is not None:
            raise InvalidImageName("repository name must be lowercase")
        raise InvalidImageName("invalid reference format")
    name, tag, digest = match.group(1), match.group(2) or "", match.group(3) or ""
    if len(name) > NAME_TOTAL_LENGTH_MAX:
        raise InvalidImageName(f"repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters")
    if digest:
        algorithm, _, hex_part = digest.partition(":")
        if algorithm not in _DIGEST_LENGTHS:
            raise InvalidImageName("unsupported digest algorithm")
        if len(hex_part) != _DIGEST_LENGTHS[algorithm]:
            raise InvalidImageName("invalid checksum digest length")
        if hex_part != hex_part.lower():
            raise InvalidImageName("invalid checksum digest format")
    return name, tag, digest


def parse_normalized(image: str) -> ImageName:
    """``image`` as a fully qualified name (Docker Hub's short names expanded)."""
    if _IDENTIFIER.match(image):
        raise InvalidImageName(f"invalid repository name ({image}), cannot specify 64-byte hexadecimal strings")
    domain, rest = _split_domain(image)
    remote = rest.split(":", 1)[0]
    if remote.lower() != remote:
        raise InvalidImageName(f"invalid reference format: repository name ({remote}) must be lowercase")
    name, tag, digest = _parse(f"{domain}/{rest}")
    domain, _, path = name.partition("/")
    return ImageName(domain, path, tag, digest)


def parse_image_name(image: str) -> ImageName:
    """As upstream's ``ParseImageName``: the normalized name, with ``latest`` as the tag when
    there is neither tag nor digest. Raises :class:`InvalidImageName` with upstream's message."""
    try:
        ref = parse_normalized(image)
    except InvalidImageName as exc:
        raise InvalidImageName(f"couldn't parse image name {go_quote(image)}: {exc}") from None
    if not ref.tag and not ref.digest:
        ref = ImageName(ref.domain, ref.path, "latest", "")
    return ref


def with_default_tag(image: str) -> str:
    """``image`` as it is pulled: ``:latest`` appended when it names neither tag nor digest
    (the name itself stays as written, short or not, as upstream keeps it)."""
    ref = parse_image_name(image)
    if not ref.digest and ref.tag and not image.endswith(":" + ref.tag):
        return f"{image}:{ref.tag}"
    return image


def default_pull_policy(image: str) -> str:
    """The API's default ``imagePullPolicy``: ``Always`` for ``:latest`` (or no tag), else
    ``IfNotPresent`` (also for a reference that does not parse)."""
    try:
        return "Always" if parse_image_name(image).tag == "latest" else "IfNotPresent"
    except InvalidImageName:
        return "IfNotPresent"


def go_quote(text: str) -> str:
    """A Go ``%q`` rendering (double quotes, backslash escapes) of ``text``."""
    out = ['"']
    for ch in text:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)

