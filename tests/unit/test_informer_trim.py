"""What informers keep of each object: everything but managedFields, with equal parts shared."""

from __future__ import annotations

import copy
from typing import Any

from kubeherd.client.informer import trim


def pod(name: str, tolerations: list[dict[str, Any]], volume: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "ns", "managedFields": [{"manager": "m"}]},
            "spec": {"containers": [{"name": "c", "image": "x"}], "tolerations": tolerations,
                     "volumes": [{"name": volume, "projected": {"defaultMode": 420, "sources": [
                         {"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}}]}}]}}


def test_cached_pods_read_as_sent_without_managed_fields() -> None:
    default = [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"}]
    other = [{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]
    sent = [pod("a", default, "kube-api-access-aaaaa"), pod("b", copy.deepcopy(default), "kube-api-access-bbbbb"),
            pod("c", other, "kube-api-access-ccccc")]
    cached = copy.deepcopy(sent)
    for obj in cached:
        trim(obj)
    for before, after in zip(sent, cached, strict=True):
        del before["metadata"]["managedFields"]
        assert after == before
    # equal parts of different pods are one object; different ones stay apart
    assert cached[0]["spec"]["tolerations"] is cached[1]["spec"]["tolerations"]
    assert cached[0]["spec"]["volumes"][0]["projected"] is cached[2]["spec"]["volumes"][0]["projected"]
    assert cached[2]["spec"]["tolerations"] == other
    assert [p["spec"]["volumes"][0]["name"] for p in cached] == [
        "kube-api-access-aaaaa", "kube-api-access-bbbbb", "kube-api-access-ccccc"]
