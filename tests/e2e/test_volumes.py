"""Volumes end to end: service-account tokens in pods, projected volumes, claims, subPath.

One `kubeherd server` with its agent for the module, as tests/e2e/test_kubelet.py runs it; the
pods of different tests run side by side. The test reads what the containers print (their logs)
and what lands on the host.
"""

from __future__ import annotations

import base64
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import TEST_SLOT, Cluster

from .conftest import agent_cluster, wait_for

BUSYBOX = "localhost/kubeherd/busybox:1.36"
SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


@pytest.fixture(scope="module")
def cluster(built_images: dict[str, Path]) -> Iterator[Cluster]:
    with agent_cluster() as c:
        yield c


@pytest.fixture
def host_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=f"khvol{TEST_SLOT}-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def apply(cluster: Cluster, doc: dict[str, Any]) -> None:
    cluster.kubectl("apply", "-f", "-", input=json.dumps(doc))


def pod(name: str, script: str, **spec: Any) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "c", "image": BUSYBOX, "command": ["sh", "-c", script]}
    if "volumeMounts" in spec:
        container["volumeMounts"] = spec.pop("volumeMounts")
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": name}},
            "spec": {"containers": [container], "terminationGracePeriodSeconds": 1, **spec}}


def logs(cluster: Cluster, name: str) -> str:
    return cluster.kubectl("logs", name, check=False).stdout


def waiting_reason(cluster: Cluster, name: str) -> str:
    statuses = cluster.kubectl_json("get", "pod", name).get("status", {}).get("containerStatuses") or [{}]
    return str(statuses[0].get("state", {}).get("waiting", {}).get("reason", ""))


def test_pod_reads_its_service_account_token_and_it_authenticates(cluster: Cluster) -> None:
    apply(cluster, pod("sa-reader", f"cat {SA_DIR}/namespace; echo; echo BEGIN; cat {SA_DIR}/token; echo; echo END; "
                                    f"cat {SA_DIR}/ca.crt; touch {SA_DIR}/x 2>/dev/null || echo read-only; "
                                    "sleep 3600"))
    out = wait_for(lambda: "read-only" in (text := logs(cluster, "sa-reader")) and text, timeout=60,
                   message="the pod to print its service-account files")
    lines = out.splitlines()
    assert lines[0] == "default"
    token = lines[lines.index("BEGIN") + 1]
    ca = (cluster.data_dir / "server" / "tls" / "ca.crt").read_text()
    assert ca.strip() in out
    user = json.loads(cluster.kubectl("--token", token, "auth", "whoami", "-o", "json").stdout)["status"]["userInfo"]
    uid = cluster.kubectl_json("get", "pod", "sa-reader")["metadata"]["uid"]
    assert user["username"] == "system:serviceaccount:default:default"
    assert user["extra"]["authentication.kubernetes.io/pod-name"] == ["sa-reader"]
    assert user["extra"]["authentication.kubernetes.io/pod-uid"] == [uid]
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert claims["kubernetes.io"]["warnafter"] - claims["iat"] == 3607  # the kubelet's 3607 s, extended


def test_projected_volume_combines_configmap_secret_and_downward_api(cluster: Cluster) -> None:
    cluster.kubectl("create", "configmap", "proj-cm", "--from-literal=colour=blue", "--from-literal=size=xl")
    cluster.kubectl("create", "secret", "generic", "proj-sec", "--from-literal=password=hunter2")
    volume = {"name": "all", "projected": {"defaultMode": 0o640, "sources": [
        {"configMap": {"name": "proj-cm", "items": [{"key": "colour", "path": "cm/colour"}]}},
        {"secret": {"name": "proj-sec", "items": [{"key": "password", "path": "secret/password", "mode": 0o400}]}},
        {"downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
                                   {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}}]}},
        {"configMap": {"name": "not-there", "optional": True}},
    ]}}
    apply(cluster, pod("projected", "cd /all; for f in cm/colour secret/password labels name; do "
                                    "echo $f=$(cat $f) $(stat -L -c %a $f); done; echo done; sleep 3600",
                       volumes=[volume], volumeMounts=[{"name": "all", "mountPath": "/all"}],
                       automountServiceAccountToken=False))
    out = wait_for(lambda: "done" in (text := logs(cluster, "projected")) and text, timeout=60,
                   message="the projected files")
    assert "cm/colour=blue 640" in out
    assert "secret/password=hunter2 400" in out
    assert 'labels=app="projected" 640' in out
    assert "name=projected 640" in out


def test_claim_waits_for_binding_then_mounts_the_host_path(cluster: Cluster, host_dir: Path) -> None:
    node = cluster.kubectl("get", "nodes", "-o", "jsonpath={.items[0].metadata.name}").stdout
    # bound to the node by hand: the scheduler (rightly) holds back a pod whose claim is missing
    apply(cluster, pod("claimer", "echo written-by-pod > /data/out; cat /data/in; sleep 3600", nodeName=node,
                       volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}],
                       volumeMounts=[{"name": "data", "mountPath": "/data"}]))
    wait_for(lambda: waiting_reason(cluster, "claimer") == "ContainerCreating", timeout=30,
             message="the pod waiting for its claim")
    events = wait_for(lambda: "FailedMount" in (text := cluster.kubectl(
        "get", "events", "--field-selector", "involvedObject.name=claimer", "-o", "json").stdout) and text,
        timeout=30, message="a FailedMount event")
    assert 'persistentvolumeclaims \\"data\\" not found' in events
    (host_dir / "in").write_text("seeded-on-host\n")
    apply(cluster, {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
                             "storageClassName": "", "volumeName": f"pv-{host_dir.name}"}})
    claim_uid = cluster.kubectl_json("get", "pvc", "data")["metadata"]["uid"]
    apply(cluster, {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": f"pv-{host_dir.name}"},
                    "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": "",
                             "hostPath": {"path": str(host_dir)},
                             "claimRef": {"namespace": "default", "name": "data", "uid": claim_uid}}})
    wait_for(lambda: "not bound" in cluster.kubectl("get", "events", "--field-selector",
                                                    "involvedObject.name=claimer").stdout, timeout=30,
             message="the kubelet to see the claim is not bound yet")
    cluster.kubectl("patch", "pvc", "data", "--subresource=status", "--type=merge", "-p",
                    '{"status": {"phase": "Bound"}}')
    wait_for(lambda: "seeded-on-host" in logs(cluster, "claimer"), timeout=60, message="the pod to read the PV")
    assert (host_dir / "out").read_text() == "written-by-pod\n"


def test_sub_path_mounts_show_only_that_directory(cluster: Cluster, host_dir: Path) -> None:
    (host_dir / "a").mkdir()
    (host_dir / "a" / "only-in-a").write_text("a\n")
    (host_dir / "b").mkdir()
    (host_dir / "b" / "only-in-b").write_text("b\n")
    apply(cluster, pod("subpath", "ls /sub; echo from-pod > /new/note; echo done; sleep 3600",
                       volumes=[{"name": "host", "hostPath": {"path": str(host_dir)}}],
                       volumeMounts=[{"name": "host", "mountPath": "/sub", "subPath": "a"},
                                     {"name": "host", "mountPath": "/new", "subPath": "made/for/pod"}],
                       automountServiceAccountToken=False))
    out = wait_for(lambda: "done" in (text := logs(cluster, "subpath")) and text, timeout=60, message="subPath output")
    assert out.split() == ["only-in-a", "done"]
    assert (host_dir / "made" / "for" / "pod" / "note").read_text() == "from-pod\n"  # the missing subPath was made


def test_sub_path_expr_uses_the_container_env_and_refuses_escapes(cluster: Cluster, host_dir: Path) -> None:
    env = [{"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]
    doc = pod("expr", "echo hi > /out/note; sleep 3600", volumes=[{"name": "host", "hostPath": {"path": str(host_dir)}}],
              volumeMounts=[{"name": "host", "mountPath": "/out", "subPathExpr": "pods/$(POD)"}],
              automountServiceAccountToken=False)
    doc["spec"]["containers"][0]["env"] = env
    apply(cluster, doc)
    wait_for(lambda: (host_dir / "pods" / "expr" / "note").exists(), timeout=60, message="the note under pods/expr")
    (host_dir / "escape").symlink_to("/etc")
    apply(cluster, pod("escaper", "ls /x; sleep 3600", volumes=[{"name": "host", "hostPath": {"path": str(host_dir)}}],
                       volumeMounts=[{"name": "host", "mountPath": "/x", "subPath": "escape"}],
                       automountServiceAccountToken=False))
    wait_for(lambda: waiting_reason(cluster, "escaper") == "CreateContainerConfigError", timeout=60,
             message="a subPath through a symlink out of the volume refused")
