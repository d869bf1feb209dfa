"""The kubelet's projected volumes, token refresh and subPath resolution (no containers needed)."""

from __future__ import annotations

import asyncio
import base64
import datetime
from pathlib import Path
from typing import Any

import pytest

from kubeherd.kubelet.kuberuntime import mounts
from kubeherd.kubelet.volumes import TokenManager, VolumeError, projected_files, sub_path, write_atomic

POD = {"metadata": {"name": "web", "namespace": "shop", "uid": "u-1", "labels": {"tier": "front"}},
       "spec": {"serviceAccountName": "builder", "containers": [{"name": "c"}]}}
OBJECTS = {
    ("configmaps", "shop", "settings"): {"data": {"colour": "blue", "size": "xl"}},
    ("secrets", "shop", "creds"): {"data": {"password": base64.b64encode(b"hunter2").decode()}},
}


async def get(kind: str, namespace: str, name: str) -> dict[str, Any] | None:
    return OBJECTS.get((kind, namespace, name))


def stamp(seconds: float) -> str:
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeAPI:
    """Answers TokenRequests with a numbered token, valid for the seconds asked."""

    def __init__(self, clock: list[float]) -> None:
        self.clock = clock
        self.requests: list[tuple[str, str, dict[str, Any]]] = []

    async def request(self, namespace: str, account: str, body: dict[str, Any]) -> dict[str, Any]:
        self.requests.append((namespace, account, body))
        now = self.clock[0]
        return {"metadata": {"creationTimestamp": stamp(now)},
                "status": {"token": f"token-{len(self.requests)}",
                           "expirationTimestamp": stamp(now + body["spec"]["expirationSeconds"])}}


def test_projected_volume_is_the_union_of_its_sources() -> None:
    clock = [1_800_000_000.0]
    api = FakeAPI(clock)
    tokens = TokenManager(api.request, clock=lambda: clock[0])
    source = {"defaultMode": 0o600, "sources": [
        {"configMap": {"name": "settings", "items": [{"key": "colour", "path": "conf/colour"}]}},
        {"secret": {"name": "creds", "items": [{"key": "password", "path": "pw", "mode": 0o400}]}},
        {"downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}},
        {"serviceAccountToken": {"path": "token", "audience": "vault", "expirationSeconds": 7200}},
        {"secret": {"name": "absent", "optional": True}},
    ]}
    files = asyncio.run(projected_files(POD, source, get, tokens.token))
    assert files == {"conf/colour": (b"blue", 0o600), "pw": (b"hunter2", 0o400),
                     "labels": (b'tier="front"', 0o600), "token": (b"token-1", 0o600)}
    ((namespace, account, body),) = api.requests
    assert (namespace, account) == ("shop", "builder")
    assert body["spec"] == {"audiences": ["vault"], "expirationSeconds": 7200, "boundObjectRef": {
        "apiVersion": "v1", "kind": "Pod", "name": "web", "uid": "u-1"}}
    with pytest.raises(VolumeError, match='configmap "gone" not found'):
        asyncio.run(projected_files(POD, {"sources": [{"configMap": {"name": "gone"}}]}, get, tokens.token))


def test_token_is_reused_then_refreshed_at_80_percent_or_a_day() -> None:
    clock = [1_800_000_000.0]
    api = FakeAPI(clock)
    tokens = TokenManager(api.request, clock=lambda: clock[0])
    short = {"path": "token", "expirationSeconds": 3600}
    assert asyncio.run(tokens.token(POD, short)) == "token-1"
    clock[0] += 0.79 * 3600
    assert asyncio.run(tokens.token(POD, short)) == "token-1"
    clock[0] += 0.02 * 3600
    assert asyncio.run(tokens.token(POD, short)) == "token-2"
    long = {"path": "token", "expirationSeconds": 30 * 24 * 3600}
    assert asyncio.run(tokens.token(POD, long)) == "token-3"
    clock[0] += 23 * 3600
    assert asyncio.run(tokens.token(POD, long)) == "token-3"
    clock[0] += 2 * 3600  # past a day: refreshed although far from 80% of a month
    assert asyncio.run(tokens.token(POD, long)) == "token-4"
    tokens.forget("u-1")
    assert not tokens.tokens


def test_sub_path_is_made_and_escapes_are_refused(tmp_path: Path) -> None:
    volume = tmp_path / "vol"
    volume.mkdir()
    made = sub_path(volume, "a/b")
    assert made == volume / "a" / "b" and made.is_dir()
    with pytest.raises(LookupError, match="must not be an absolute path"):
        sub_path(volume, "/etc")
    with pytest.raises(LookupError, match="must not contain '..'"):
        sub_path(volume, "a/../../etc")
    (volume / "out").symlink_to(tmp_path)
    with pytest.raises(LookupError, match="not within volume path"):
        sub_path(volume, "out")


def test_mounts_expand_sub_path_expr_and_make_projected_read_only(tmp_path: Path) -> None:
    write_atomic(tmp_path / "proj", {"token": (b"t", 0o644)})
    (tmp_path / "data").mkdir()
    pod = {"metadata": {"name": "web", "namespace": "shop", "uid": "u-1"},
           "spec": {"volumes": [{"name": "proj", "projected": {"sources": []}},
                                {"name": "data", "persistentVolumeClaim": {"claimName": "d", "readOnly": True}}]}}
    container = {"name": "c", "env": [{"name": "ME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                 "volumeMounts": [{"name": "proj", "mountPath": "/p"},
                                  {"name": "data", "mountPath": "/d", "subPathExpr": "by-pod/$(ME)"}]}
    out = mounts(pod, container, {"proj": tmp_path / "proj", "data": tmp_path / "data"})
    assert [(m.container_path, m.host_path, m.readonly) for m in out] == [
        ("/p", str(tmp_path / "proj"), True), ("/d", str(tmp_path / "data" / "by-pod" / "web"), True)]
