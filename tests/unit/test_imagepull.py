"""The kubelet's image manager against a scripted runtime: policies, credentials, back-off, events."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import grpc
import pytest

from kubeherd.kubelet.cri import AuthConfig, CRIError, Image
from kubeherd.kubelet.imagepull import ImageManager, go_duration
from kubeherd.kubelet.registries import RegistriesConfig

Obj = dict[str, Any]
IMAGE_ID = "sha256:" + "c" * 64


class FakeRuntime:
    """Images it has, and what a pull does: succeed for the right credentials, or fail."""

    def __init__(self, present: set[str] | None = None, *, needs: tuple[str, str] | None = None,
                 missing: bool = False) -> None:
        self.present = present or set()
        self.needs = needs
        self.missing = missing
        self.pulls: list[tuple[str, AuthConfig | None]] = []

    async def image_status(self, image: str) -> Image | None:
        if image in self.present or image == IMAGE_ID:
            return Image(id=IMAGE_ID, repo_tags=[image], size=1234)
        return None

    async def pull_image(self, spec: Any, auth: AuthConfig | None = None, sandbox_config: Any = None,
                         timeout: float | None = None) -> str:
        self.pulls.append((spec.image, auth))
        if self.missing:
            raise CRIError("PullImage", grpc.StatusCode.NOT_FOUND, f'failed to pull and unpack image "{spec.image}": '
                                                                  "not found")
        if self.needs and (auth is None or (auth.username, auth.password) != self.needs):
            raise CRIError("PullImage", grpc.StatusCode.UNKNOWN, "401 Unauthorized")
        self.present.add(spec.image)
        return IMAGE_ID


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def pod(image: str, policy: str = "", secrets: list[str] | None = None) -> tuple[Obj, Obj]:
    container = {"name": "c", "image": image, **({"imagePullPolicy": policy} if policy else {})}
    return ({"metadata": {"name": "p", "namespace": "ns", "uid": "u1"},
             "spec": {"containers": [container], "imagePullSecrets": [{"name": s} for s in secrets or []]}},
            container)


def manager(runtime: FakeRuntime, secrets: dict[str, Obj] | None = None,
            registries: RegistriesConfig | None = None) -> tuple[ImageManager, list[tuple[str, str, str]], Clock]:
    events: list[tuple[str, str, str]] = []
    clock = Clock()

    async def get(plural: str, namespace: str, name: str) -> Obj | None:
        assert plural == "secrets"
        return (secrets or {}).get(name)

    m = ImageManager(runtime, get, lambda obj, kind, reason, msg: events.append((kind, reason, msg)),  # type: ignore[arg-type]
                     registries, clock=clock)
    return m, events, clock


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_present_images_and_policies() -> None:
    runtime = FakeRuntime({"localhost/kubeherd/busybox:1.36"})
    m, events, _ = manager(runtime)
    result = run(m.ensure_image(*pod("localhost/kubeherd/busybox:1.36")))
    assert result.image_ref == IMAGE_ID and result.waiting is None and runtime.pulls == []
    assert events == [("Normal", "Pulled", 'Container image "localhost/kubeherd/busybox:1.36" already present on '
                                          "machine")]
    events.clear()
    result = run(m.ensure_image(*pod("localhost/kubeherd/absent:1", "Never")))
    message = 'Container image "localhost/kubeherd/absent:1" is not present with pull policy of Never'
    assert result.waiting == ("ErrImageNeverPull", message) and runtime.pulls == []
    assert events == [("Warning", "ErrImageNeverPull", message), ("Warning", "Failed", "Error: ErrImageNeverPull")]
    # Always pulls even a present image; no tag means :latest and Always
    run(m.ensure_image(*pod("localhost/kubeherd/busybox:1.36", "Always")))
    run(m.ensure_image(*pod("localhost/kubeherd/busybox")))
    assert [image for image, _ in runtime.pulls] == ["localhost/kubeherd/busybox:1.36",
                                                     "localhost/kubeherd/busybox:latest"]


def test_invalid_reference() -> None:
    m, events, _ = manager(FakeRuntime())
    result = run(m.ensure_image(*pod("kubeherd/Bad:1")))
    message = ('Failed to apply default image tag "kubeherd/Bad:1": couldn\'t parse image name "kubeherd/Bad:1": '
               "invalid reference format: repository name (kubeherd/Bad) must be lowercase")
    assert result.waiting == ("InvalidImageName", message)
    assert events == [("Warning", "InspectFailed", message), ("Warning", "Failed", "Error: InvalidImageName")]


def test_failed_pulls_back_off_10s_doubling_to_300s() -> None:
    runtime = FakeRuntime(missing=True)
    m, events, clock = manager(runtime)
    image = "127.0.0.1:5000/kubeherd/nope:1"
    error = f'rpc error: code = NotFound desc = failed to pull and unpack image "{image}": not found'
    result = run(m.ensure_image(*pod(image)))
    assert result.waiting == ("ErrImagePull", error) and result.retry_in == 10
    assert [e[1] for e in events] == ["Pulling", "Failed", "Failed"]
    assert events[1] == ("Warning", "Failed", f'Failed to pull image "{image}": {error}')
    assert events[2] == ("Warning", "Failed", "Error: ErrImagePull")
    events.clear()
    clock.now += 4
    result = run(m.ensure_image(*pod(image)))
    assert result.waiting == ("ImagePullBackOff", f'Back-off pulling image "{image}": ErrImagePull: {error}')
    assert result.retry_in == 6 and len(runtime.pulls) == 1
    assert events == [("Normal", "BackOff", f'Back-off pulling image "{image}"'),
                      ("Warning", "Failed", "Error: ImagePullBackOff")]
    delays = []
    for _ in range(7):
        clock.now += 301
        delays.append(run(m.ensure_image(*pod(image))).retry_in)
    assert delays == [20, 40, 80, 160, 300, 300, 300]
    clock.now += 2 * 300 + 1  # long enough without a failure: the back-off starts over
    assert run(m.ensure_image(*pod(image))).retry_in == 10


def test_pull_secrets_are_tried_in_turn_then_node_credentials() -> None:
    def secret(name: str, auths: Obj) -> Obj:
        return {"metadata": {"namespace": "ns", "name": name}, "type": "kubernetes.io/dockerconfigjson",
                "data": {".dockerconfigjson": base64.b64encode(json.dumps({"auths": auths}).encode()).decode()}}

    runtime = FakeRuntime(needs=("right", "pw"))
    secrets = {"a": secret("a", {"127.0.0.1:5000/team": {"username": "wrong", "password": "x"}}),
               "b": secret("b", {"https://127.0.0.1:5000": {"username": "right", "password": "pw"}})}
    m, events, _ = manager(runtime, secrets)
    result = run(m.ensure_image(*pod("127.0.0.1:5000/team/app:1", secrets=["a", "missing", "b"])))
    assert result.image_ref == IMAGE_ID
    assert [(a.username if a else None) for _, a in runtime.pulls] == ["wrong", "right"]
    assert ("Warning", "FailedToRetrieveImagePullSecret", "Unable to retrieve some image pull secrets (missing); "
            "attempting to pull the image may not succeed.") in events
    pulled = [e for e in events if e[1] == "Pulled"]
    assert pulled == [("Normal", "Pulled", 'Successfully pulled image "127.0.0.1:5000/team/app:1" in 0s '
                                           "(0s including waiting). Image size: 1234 bytes.")]
    # no matching secret: the node's credentials for the registry, scoped to its host
    runtime = FakeRuntime(needs=("node", "np"))
    registries = RegistriesConfig.from_mapping({"configs": {"127.0.0.1:5000": {"auth": {"username": "node",
                                                                                       "password": "np"}}}})
    m, events, _ = manager(runtime, {}, registries)
    assert run(m.ensure_image(*pod("127.0.0.1:5000/team/app:1"))).image_ref == IMAGE_ID
    assert [a.server_address if a else None for _, a in runtime.pulls] == ["https://127.0.0.1:5000"]


def test_unauthorized_without_credentials() -> None:
    runtime = FakeRuntime(needs=("u", "p"))
    m, _, _ = manager(runtime)
    result = run(m.ensure_image(*pod("127.0.0.1:5000/team/app:1")))
    assert result.waiting == ("ErrImagePull", "rpc error: code = Unknown desc = 401 Unauthorized")
    assert runtime.pulls == [("127.0.0.1:5000/team/app:1", None)]


@pytest.mark.parametrize(("seconds", "text"), [(0.0004, "0s"), (0.313, "313ms"), (1.5944, "1.594s"), (2.0, "2s"),
                                               (61.25, "1m1.25s"), (3600, "1h0m0s")])
def test_durations_read_as_go_prints_them(seconds: float, text: str) -> None:
    assert go_duration(seconds) == text
