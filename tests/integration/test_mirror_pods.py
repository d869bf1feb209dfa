"""The API's rules for mirror pods (the API objects kubelets keep for their static pods)."""

from __future__ import annotations

import json
from typing import Any

from .conftest import Cluster

MIRROR = "kubernetes.io/config.mirror"


def mirror_pod(name: str, annotations: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "annotations": {MIRROR: "abc123", **(annotations or {})}},
            "spec": {"nodeName": "node-1", "containers": [{"name": "c", "image": "busybox:1.36"}], **spec}}


def create(cluster: Cluster, doc: dict[str, Any]) -> Any:
    return cluster.kubectl("create", "-f", "-", input=json.dumps(doc), check=False)


def test_a_mirror_pod_gets_no_service_account(cluster: Cluster) -> None:
    assert create(cluster, mirror_pod("mirror-ok")).returncode == 0
    pod = cluster.kubectl_json("get", "pod", "mirror-ok")
    assert "serviceAccountName" not in pod["spec"] and "serviceAccount" not in pod["spec"]
    assert not [v for v in pod["spec"].get("volumes") or [] if v["name"].startswith("kube-api-access-")]
    assert pod["metadata"]["annotations"][MIRROR] == "abc123"


def test_a_mirror_pod_may_not_lean_on_api_objects(cluster: Cluster) -> None:
    cases = [
        (mirror_pod("m-sa", serviceAccountName="builder"), "a mirror pod may not reference service accounts"),
        (mirror_pod("m-secret", volumes=[{"name": "s", "secret": {"secretName": "creds"}}]),
         "a mirror pod may not reference secrets"),
        (mirror_pod("m-env", containers=[{"name": "c", "image": "busybox", "env": [
            {"name": "P", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "p"}}}]}]),
         "a mirror pod may not reference secrets"),
        (mirror_pod("m-pull", imagePullSecrets=[{"name": "regcred"}]), "a mirror pod may not reference secrets"),
        (mirror_pod("m-token", volumes=[{"name": "t", "projected": {"sources": [
            {"serviceAccountToken": {"path": "token"}}]}}]),
         "a mirror pod may not use ServiceAccountToken volume projections"),
    ]
    for doc, message in cases:
        result = create(cluster, doc)
        name = doc["metadata"]["name"]
        assert result.returncode != 0, name
        assert f'pods "{name}" is forbidden: {message}' in result.stderr, result.stderr


def test_the_mirror_annotation_is_fixed_at_creation(cluster: Cluster) -> None:
    assert create(cluster, mirror_pod("m-fixed")).returncode == 0
    for args in (("kubernetes.io/config.mirror-",), ("--overwrite", "kubernetes.io/config.mirror=other")):
        result = cluster.kubectl("annotate", "pod", "m-fixed", *args, check=False)
        assert result.returncode != 0
        assert "metadata.annotations[kubernetes.io/config.mirror]: Forbidden: may not remove or update mirror " \
               "pod annotation" in result.stderr, result.stderr
    plain = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "plain"},
             "spec": {"automountServiceAccountToken": False,
                      "containers": [{"name": "c", "image": "busybox:1.36"}]}}
    assert create(cluster, plain).returncode == 0
    result = cluster.kubectl("annotate", "pod", "plain", "kubernetes.io/config.mirror=x", check=False)
    assert result.returncode != 0 and "may not add mirror pod annotation" in result.stderr, result.stderr
    assert cluster.kubectl("annotate", "pod", "m-fixed", "other=fine").returncode == 0
