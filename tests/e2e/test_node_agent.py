"""The kubelet's node-local duties end to end: static pods and their mirrors, container log
rotation, the node's images and pressure conditions.

One server with its agent serves the module, started with small log-rotation settings so a
chatty container rotates within seconds.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubeherd.kubelet.cri import ContainerFilter, ContainerState, CRIClient
from tests.integration.conftest import Cluster

from .conftest import agent_cluster, wait_for

BUSYBOX = "localhost/kubeherd/busybox:1.36"
NODE = socket.gethostname().lower()
MAX_FILES = 3


@pytest.fixture(scope="module")
def cluster(built_images: dict[str, Path]) -> Iterator[Cluster]:
    with agent_cluster("--kubelet-arg", "container-log-max-size=1Mi",
                       "--kubelet-arg", f"container-log-max-files={MAX_FILES}",
                       "--kubelet-arg", "container-log-monitor-interval=1s") as c:
        yield c


def get_pod(cluster: Cluster, name: str) -> dict[str, Any] | None:
    result = cluster.kubectl("get", "pod", name, "-o", "json", check=False)
    return json.loads(result.stdout) if result.returncode == 0 else None


def running(cluster: Cluster, name: str) -> dict[str, Any] | None:
    pod = get_pod(cluster, name)
    if pod is None or pod.get("status", {}).get("phase") != "Running":
        return None
    statuses = pod["status"].get("containerStatuses") or []
    return pod if statuses and "running" in statuses[0].get("state", {}) else None


def runtime_containers(cluster: Cluster, uid: str) -> list[Any]:
    async def listing() -> list[Any]:
        async with CRIClient(str(cluster.data_dir / "containerd" / "containerd.sock")) as cri:
            return await cri.list_containers(ContainerFilter(label_selector={"io.kubernetes.pod.uid": uid}))
    return [c for c in asyncio.run(listing()) if c.state == ContainerState.CONTAINER_RUNNING]


def manifest(command: str) -> str:
    return yaml.safe_dump({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "static-web"},
                           "spec": {"terminationGracePeriodSeconds": 1, "containers": [
                               {"name": "web", "image": BUSYBOX, "command": ["sh", "-c", command]}]}})


def test_static_pod_runs_and_is_mirrored(cluster: Cluster) -> None:
    manifests = cluster.data_dir / "agent" / "pod-manifests"
    (manifests / ".hidden.yaml").write_text(manifest("sleep 3600").replace("static-web", "hidden"))
    (manifests / "web.yaml").write_text(manifest("echo v1; sleep 3600"))
    name = f"static-web-{NODE}"

    mirror = wait_for(lambda: running(cluster, name), timeout=60, message="the static pod's mirror to be Running")
    annotations = mirror["metadata"]["annotations"]
    assert annotations["kubernetes.io/config.source"] == "file"
    assert annotations["kubernetes.io/config.mirror"] == annotations["kubernetes.io/config.hash"]
    assert annotations["kubernetes.io/config.seen"]
    assert mirror["spec"]["nodeName"] == NODE
    owner = mirror["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["controller"]) == ("Node", NODE, True)
    assert "serviceAccountName" not in mirror["spec"]
    container_id = mirror["status"]["containerStatuses"][0]["containerID"]
    static_uid = annotations["kubernetes.io/config.hash"]
    assert len(runtime_containers(cluster, static_uid)) == 1  # the runtime knows it by the file's hash
    assert get_pod(cluster, f"hidden-{NODE}") is None  # hidden files are ignored
    wait_for(lambda: "v1" in cluster.kubectl("logs", name, check=False).stdout, timeout=20, message="logs")

    # deleting the mirror: the kubelet creates it again; the container keeps running
    cluster.kubectl("delete", "pod", name, "--wait=false")
    again = wait_for(lambda: (p := running(cluster, name)) and p["metadata"]["uid"] != mirror["metadata"]["uid"]
                     and not p["metadata"].get("deletionTimestamp") and p, timeout=30,
                     message="the mirror pod to come back")
    assert again["status"]["containerStatuses"][0]["containerID"] == container_id
    assert again["status"]["containerStatuses"][0]["restartCount"] == 0

    # the mirror annotation cannot be taken off through the API
    result = cluster.kubectl("annotate", "pod", name, "kubernetes.io/config.mirror-", check=False)
    assert result.returncode != 0 and "may not remove or update mirror pod annotation" in result.stderr

    # editing the file replaces the pod
    (manifests / "web.yaml").write_text(manifest("echo v2; sleep 3600"))
    edited = wait_for(lambda: (p := running(cluster, name)) and
                      p["metadata"]["annotations"]["kubernetes.io/config.mirror"] != static_uid and p,
                      timeout=60, message="the edited static pod")
    assert edited["status"]["containerStatuses"][0]["containerID"] != container_id
    wait_for(lambda: "v2" in cluster.kubectl("logs", name, check=False).stdout, timeout=20, message="v2 logs")
    wait_for(lambda: not runtime_containers(cluster, static_uid), timeout=30, message="the old version to stop")

    # removing the file stops the pod and deletes the mirror
    new_uid = edited["metadata"]["annotations"]["kubernetes.io/config.hash"]
    (manifests / "web.yaml").unlink()
    wait_for(lambda: get_pod(cluster, name) is None, timeout=30, message="the mirror pod to go")
    wait_for(lambda: not runtime_containers(cluster, new_uid), timeout=30, message="the static pod to stop")


def test_container_logs_rotate(cluster: Cluster) -> None:
    # about 1 MB a second, each burst ending in a numbered marker line
    script = ("i=0; line=$(head -c 1000 /dev/zero | tr '\\0' x); while true; do i=$((i+1)); "
              "yes \"$line\" | head -n 250; echo \"mark $i\"; sleep 0.25; done")
    doc = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "chatty"},
           "spec": {"terminationGracePeriodSeconds": 1, "automountServiceAccountToken": False,
                    "containers": [{"name": "c", "image": BUSYBOX, "command": ["sh", "-c", script]}]}}
    cluster.kubectl("apply", "-f", "-", input=json.dumps(doc))
    pod = wait_for(lambda: running(cluster, "chatty"), timeout=60, message="chatty to run")
    log_dir = cluster.data_dir / "agent" / "pod-logs" / f"default_chatty_{pod['metadata']['uid']}" / "c"

    seen_counts = []

    def rotated() -> list[str]:
        names = sorted(p.name for p in log_dir.iterdir()) if log_dir.exists() else []
        seen_counts.append(len(names))
        return names if any(n.endswith(".gz") for n in names) and len(names) == MAX_FILES else []

    names = wait_for(rotated, timeout=90, interval=0.2, message="rotated and compressed logs")
    assert max(seen_counts) <= MAX_FILES, seen_counts
    assert "0.log" in names
    stamped = [n for n in names if n != "0.log"]
    assert all(re.fullmatch(r"0\.log\.\d{8}-\d{6}(\.gz)?", n) for n in stamped), names
    assert not stamped[-1].endswith(".gz") and all(n.endswith(".gz") for n in stamped[:-1]), names
    # kubectl logs reads the live file (empty for a moment right after a rotation)
    tail = wait_for(lambda: cluster.kubectl("logs", "chatty", "--tail", "1").stdout, timeout=10,
                    message="a line in the live log")
    assert re.fullmatch(r"(mark \d+|x{1000})\n", tail), tail[:200]
    later = wait_for(lambda: re.findall(r"^mark (\d+)$", cluster.kubectl("logs", "chatty", "--tail", "600").stdout,
                                        re.M), timeout=10, message="marker lines")
    marks = [int(m) for m in later]
    assert marks == sorted(marks) and marks[-1] > 4, marks  # rotated several times: later bursts
    for _ in range(10):  # rotation goes on: never more than max-files files
        assert len(list(log_dir.iterdir())) <= MAX_FILES
        time.sleep(0.3)
    cluster.kubectl("delete", "pod", "chatty", "--wait=false")


def test_node_reports_images_and_no_pressure(cluster: Cluster) -> None:
    node = cluster.kubectl_json("get", "node", NODE)
    images = node["status"]["images"]
    assert any(f"{BUSYBOX}" in i["names"] for i in images), images
    sizes = [i["sizeBytes"] for i in images]
    assert sizes == sorted(sizes, reverse=True) and all(s > 0 for s in sizes)
    conditions = {c["type"]: c for c in node["status"]["conditions"]}
    assert conditions["MemoryPressure"]["status"] == "False"
    assert conditions["MemoryPressure"]["reason"] == "KubeletHasSufficientMemory"
    assert conditions["DiskPressure"]["reason"] == "KubeletHasNoDiskPressure"
    # allocatable memory leaves out the default hard threshold, memory.available<100Mi
    from kubeherd.api.quantity import parse_quantity

    capacity = parse_quantity(node["status"]["capacity"]["memory"]).value()
    allocatable = parse_quantity(node["status"]["allocatable"]["memory"]).value()
    assert capacity - allocatable == 100 * 1024 * 1024
    taints = node["spec"].get("taints") or []
    assert not [t for t in taints if t["key"].endswith("-pressure")], taints
