"""Static pods from files: identity, defaults, the mirror object, and reading the directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from kubeherd.client import APIStatusError
from kubeherd.kubelet.cri import Image
from kubeherd.kubelet.nodeimages import node_images
from kubeherd.kubelet.staticpods import (
    CONFIG_HASH,
    CONFIG_MIRROR,
    CONFIG_SEEN,
    CONFIG_SOURCE,
    PodSource,
    StaticPodSource,
    fnv1a_128,
    is_mirror,
    is_static,
    mirror_pod,
    static_pod,
)


def manifest(name: str = "web", command: str = "sleep 1", **meta: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, **meta},
            "spec": {"containers": [{"name": "c", "image": "busybox:1.36", "command": ["sh", "-c", command]}]}}


def test_fnv1a_128_known_values() -> None:
    assert fnv1a_128(b"") == "6c62272e07bb014262b821756295c58d"
    assert fnv1a_128(b"a") == "d228cb696f1a8caf78912b704e4a8964"


def test_identity_and_defaults_as_upstream() -> None:
    pod = static_pod(manifest(), Path("/etc/pods/web.yaml"), "node-a", seen="2024-01-01T00:00:00Z")
    meta = pod["metadata"]
    assert (meta["name"], meta["namespace"], pod["spec"]["nodeName"]) == ("web-node-a", "default", "node-a")
    assert len(meta["uid"]) == 32 and meta["annotations"][CONFIG_HASH] == meta["uid"]
    assert meta["annotations"][CONFIG_SOURCE] == "file" and meta["annotations"][CONFIG_SEEN]
    assert {"operator": "Exists", "effect": "NoExecute"} in pod["spec"]["tolerations"]
    assert pod["spec"]["restartPolicy"] == "Always" and pod["spec"]["containers"][0]["imagePullPolicy"] \
        == "IfNotPresent"
    assert is_static(pod) and not is_mirror(pod)
    # the same file on the same node: the same uid; another node, path or content: another
    same = static_pod(manifest(), Path("/etc/pods/web.yaml"), "node-a")
    assert same["metadata"]["uid"] == meta["uid"]
    for other in (static_pod(manifest(), Path("/etc/pods/web.yaml"), "node-b"),
                  static_pod(manifest(), Path("/etc/pods/other.yaml"), "node-a"),
                  static_pod(manifest(command="sleep 2"), Path("/etc/pods/web.yaml"), "node-a")):
        assert other["metadata"]["uid"] != meta["uid"]
    assert static_pod(manifest(namespace="kube-system"), Path("/p"), "n")["metadata"]["namespace"] == "kube-system"


@pytest.mark.parametrize(("doc", "complaint"), [
    ([1, 2], "not an object"),
    ({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}}, "want a v1 Pod"),
    ({"kind": "Pod", "metadata": {}, "spec": {"containers": [{"name": "c"}]}}, "metadata.name is required"),
    ({"kind": "Pod", "metadata": {"name": "x"}, "spec": {}}, "spec.containers is required"),
])
def test_unusable_manifests(doc: Any, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        static_pod(doc, Path("/p"), "n")


def test_the_mirror_pod() -> None:
    pod = static_pod(manifest(), Path("/etc/pods/web.yaml"), "node-a")
    mirror = mirror_pod(pod, "node-a", "node-uid")
    assert "uid" not in mirror["metadata"] and "status" not in mirror
    assert mirror["metadata"]["annotations"][CONFIG_MIRROR] == pod["metadata"]["uid"]
    assert mirror["metadata"]["ownerReferences"] == [{"apiVersion": "v1", "kind": "Node", "name": "node-a",
                                                      "uid": "node-uid", "controller": True}]
    assert is_mirror(mirror) and CONFIG_MIRROR not in pod["metadata"]["annotations"]


def test_the_directory_source(tmp_path: Path) -> None:
    changes: list[str] = []
    source = StaticPodSource(tmp_path, "node-a", lambda p: changes.append(p["metadata"]["name"]))
    (tmp_path / "web.yaml").write_text(yaml.safe_dump(manifest()))
    (tmp_path / "api.json").write_text('{"kind": "Pod", "metadata": {"name": "api"}, "spec": {"containers": '
                                       '[{"name": "c", "image": "x"}]}}')
    (tmp_path / ".hidden.yaml").write_text(yaml.safe_dump(manifest("hidden")))
    (tmp_path / "broken.yaml").write_text("kind: [")
    (tmp_path / "zz-dup.yaml").write_text(yaml.safe_dump(manifest()))  # the same pod name: the first file wins
    (tmp_path / "subdir").mkdir()
    source.apply(source.read())
    assert sorted(source.pods) == ["default/api-node-a", "default/web-node-a"]
    assert sorted(changes) == ["api-node-a", "web-node-a"]
    seen = source.pods["default/web-node-a"]["metadata"]["annotations"][CONFIG_SEEN]

    changes.clear()
    source.apply(source.read())  # nothing changed: nothing reported, config.seen kept
    assert changes == []
    assert source.pods["default/web-node-a"]["metadata"]["annotations"][CONFIG_SEEN] == seen

    (tmp_path / "web.yaml").write_text(yaml.safe_dump(manifest(command="sleep 9")))
    (tmp_path / "api.json").unlink()
    source.apply(source.read())
    assert sorted(changes) == ["api-node-a", "web-node-a"]  # a new version, and a removal
    assert sorted(source.pods) == ["default/web-node-a"]
    gone = source.gone["default/api-node-a"]["metadata"]  # to be stopped as a deleted pod is
    assert gone["deletionTimestamp"] and gone["deletionGracePeriodSeconds"] == 30


def test_node_images_largest_first_with_digests_and_tags() -> None:
    images = [Image(id="sha256:a", repo_tags=["small:1"], repo_digests=["small@sha256:1"], size=10),
              Image(id="sha256:b", repo_tags=["big:1", "big:latest"], size=1000),
              Image(id="sha256:c", size=5000)]  # no name: left out
    assert node_images(images) == [{"names": ["big:1", "big:latest"], "sizeBytes": 1000},
                                   {"names": ["small@sha256:1", "small:1"], "sizeBytes": 10}]
    many = [Image(id=str(i), repo_tags=[f"i{i}:1"], size=i) for i in range(80)]
    listed = node_images(many)
    assert len(listed) == 50 and listed[0]["sizeBytes"] == 79


class FakeIndexer:
    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}

    def get(self, key: str) -> dict[str, Any] | None:
        return self.items.get(key)

    def objects(self) -> list[dict[str, Any]]:
        return list(self.items.values())


class FakeAPI:
    """Pods and one Node; the informer's cache is whatever a test puts in ``indexer``."""

    def __init__(self) -> None:
        self.indexer = FakeIndexer()
        self.pods: dict[str, dict[str, Any]] = {}
        self.down = False
        self.calls: list[str] = []
        self.serial = 0

    async def get(self, ref: Any, name: str, namespace: str | None = None) -> dict[str, Any]:
        if ref.plural == "nodes":
            return {"metadata": {"name": name, "uid": "node-uid"}}
        if f"{namespace}/{name}" not in self.pods:
            raise APIStatusError(404, {"reason": "NotFound"})
        return self.pods[f"{namespace}/{name}"]

    async def create(self, ref: Any, body: dict[str, Any], namespace: str) -> dict[str, Any]:
        if self.down:
            raise OSError("connection refused")
        key = f"{namespace}/{body['metadata']['name']}"
        self.calls.append(f"create {key}")
        if key in self.pods:
            raise APIStatusError(409, {"reason": "AlreadyExists"})
        self.serial += 1
        created = {**body, "metadata": {**body["metadata"], "uid": f"mirror-{self.serial}"},
                   "status": {"phase": "Pending"}}
        self.pods[key] = created
        return created

    async def delete(self, ref: Any, name: str, namespace: str, grace_period: int,
                     preconditions: dict[str, str]) -> None:
        key = f"{namespace}/{name}"
        self.calls.append(f"delete {key}")
        current = self.pods.get(key)
        if current is None:
            raise APIStatusError(404, {"reason": "NotFound"})
        if current["metadata"]["uid"] != preconditions["uid"]:
            raise APIStatusError(409, {"reason": "Conflict"})
        del self.pods[key]


def test_the_pod_source_keeps_one_right_mirror_per_static_pod(tmp_path: Path) -> None:
    import asyncio

    api = FakeAPI()
    static = StaticPodSource(tmp_path, "node-a", lambda p: None)
    (tmp_path / "web.yaml").write_text(yaml.safe_dump(manifest()))
    static.apply(static.read())
    source = PodSource(api, api, static, "node-a")  # type: ignore[arg-type]
    key = "default/web-node-a"
    uid = static.pods[key]["metadata"]["uid"]

    pod = asyncio.run(source.pod_to_sync(key))  # no mirror yet: created
    assert pod is not None and pod["metadata"]["uid"] == uid and pod["status"] == {"phase": "Pending"}
    mirror = api.pods[key]
    assert source.status_target(pod) is mirror and mirror["metadata"]["annotations"][CONFIG_MIRROR] == uid

    api.indexer.items[key] = mirror  # the informer caught up: nothing to do
    api.calls.clear()
    asyncio.run(source.pod_to_sync(key))
    assert api.calls == []

    # the user deleted it (graceful: a deletionTimestamp): deleted at once and created again
    api.indexer.items[key] = {**mirror, "metadata": {**mirror["metadata"], "deletionTimestamp": "2024-01-01T00:00:00Z"}}
    asyncio.run(source.pod_to_sync(key))
    assert api.calls == [f"delete {key}", f"create {key}"] and api.pods[key]["metadata"]["uid"] != "mirror-1"

    # a regular pod listing is static pods plus API pods, never mirrors
    api.indexer.items["default/other"] = {"metadata": {"name": "other", "namespace": "default", "uid": "u2"}}
    assert sorted(p["metadata"]["name"] for p in source.objects()) == ["other", "web-node-a"]
    assert source.get(key) is static.pods[key]

    # the API away: the static pod still syncs, with no status target
    api.down = True
    api.indexer.items.pop(key)
    assert asyncio.run(source.pod_to_sync(key)) is not None
    assert source.status_target(static.pods[key]) is None
    api.down = False

    # the file goes: the mirror is deleted and the pod comes back once, marked for deletion
    api.indexer.items[key] = api.pods[key]
    (tmp_path / "web.yaml").unlink()
    static.apply(static.read())
    gone = asyncio.run(source.pod_to_sync(key))
    assert gone is not None and gone["metadata"]["uid"] == uid and gone["metadata"]["deletionTimestamp"]
    assert key not in api.pods
    api.indexer.items.pop(key)
    assert asyncio.run(source.pod_to_sync(key)) is None


def test_orphaned_mirrors_are_deleted(tmp_path: Path) -> None:
    import asyncio

    api = FakeAPI()
    orphan = {"metadata": {"name": "old-node-a", "namespace": "default", "uid": "m1",
                           "annotations": {CONFIG_MIRROR: "abc"}}}
    api.pods["default/old-node-a"] = api.indexer.items["default/old-node-a"] = orphan
    source = PodSource(api, api, StaticPodSource(tmp_path, "node-a", lambda p: None), "node-a")  # type: ignore[arg-type]
    assert source.objects() == []
    asyncio.run(source.delete_orphaned_mirrors())
    assert api.pods == {}
