"""Node-pressure eviction end to end.

The pods start on a node with upstream's default thresholds (no pressure); then the server is
restarted (the pods keep running and are adopted) with a hard ``memory.available`` threshold
above the machine's memory, so the node is under memory pressure for good. The eviction
manager then evicts one pod per pass in upstream's order: the BestEffort pod (using more than
its zero request) before the Guaranteed one; the static pod is never evicted.
"""

from __future__ import annotations

import json
import socket
import tempfile
from pathlib import Path
from typing import Any

import yaml

from kubeherd.cli.killall import killall_sync
from tests.integration.conftest import Cluster, start_server, stop_server

from .conftest import run, wait_for

BUSYBOX = "localhost/kubeherd/busybox:1.36"
NODE = socket.gethostname().lower()


def mem_total_kib() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1])
    raise AssertionError("no MemTotal in /proc/meminfo")


def pod(name: str, **container: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"terminationGracePeriodSeconds": 1, "automountServiceAccountToken": False,
                     "containers": [{"name": "c", "image": BUSYBOX, "command": ["sleep", "3600"], **container}]}}


def get(cluster: Cluster, name: str) -> dict[str, Any]:
    return cluster.kubectl_json("get", "pod", name)


def phase(cluster: Cluster, name: str) -> str:
    return str(get(cluster, name).get("status", {}).get("phase", ""))


def node_condition(cluster: Cluster, kind: str) -> dict[str, Any]:
    node = cluster.kubectl_json("get", "node", NODE)
    return next(c for c in node["status"]["conditions"] if c["type"] == kind)


def disruption_time(pod_obj: dict[str, Any]) -> str:
    cond = next(c for c in pod_obj["status"]["conditions"] if c["type"] == "DisruptionTarget")
    assert (cond["status"], cond["reason"]) == ("True", "TerminationByKubelet"), cond
    return str(cond["lastTransitionTime"])


def test_memory_pressure_evicts_best_effort_first(built_images: dict[str, Path]) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="kh", dir="/tmp"))
    cluster = start_server(tmp, agent=True, extra=["--kubelet-arg", "housekeeping-interval=1s"])
    try:
        wait_for(lambda: "Ready" in cluster.kubectl("get", "nodes", check=False).stdout, timeout=60,
                 message="the node to be Ready")
        manifests = cluster.data_dir / "agent" / "pod-manifests"
        (manifests / "keeper.yaml").write_text(yaml.safe_dump(pod("keeper")))
        resources = {"requests": {"cpu": "10m", "memory": "64Mi"}, "limits": {"cpu": "10m", "memory": "64Mi"}}
        for doc in (pod("besteffort"), pod("guaranteed", resources=resources)):
            cluster.kubectl("apply", "-f", "-", input=json.dumps(doc))
        for name in ("besteffort", "guaranteed", f"keeper-{NODE}"):
            wait_for(lambda n=name: phase(cluster, n) == "Running", timeout=60, message=f"{name} to run")
        assert get(cluster, "guaranteed")["status"]["qosClass"] == "Guaranteed"
        # upstream's default thresholds: no pressure here
        assert node_condition(cluster, "MemoryPressure")["status"] == "False"

        stop_server(cluster)  # the pods keep running
        threshold = f"{mem_total_kib() + 1024 * 1024}Ki"  # 1 GiB above the machine's memory
        restarted = start_server(tmp, agent=True, extra=[
            "--kubelet-arg", f"eviction-hard=memory.available<{threshold}", "--kubelet-arg", "housekeeping-interval=3s"])
        cluster.process, cluster.kubeconfig, cluster.url = restarted.process, restarted.kubeconfig, restarted.url

        cond = wait_for(lambda: (c := node_condition(cluster, "MemoryPressure"))["status"] == "True" and c,
                        timeout=60, message="MemoryPressure")
        assert cond["reason"] == "KubeletHasInsufficientMemory"
        assert cond["message"] == "kubelet has insufficient memory available"
        wait_for(lambda: any(t["key"] == "node.kubernetes.io/memory-pressure" and t["effect"] == "NoSchedule"
                             for t in cluster.kubectl_json("get", "node", NODE)["spec"].get("taints") or []),
                 timeout=30, message="the memory-pressure taint")

        wait_for(lambda: phase(cluster, "besteffort") == "Failed", timeout=60, message="the BestEffort eviction")
        evicted = get(cluster, "besteffort")
        assert evicted["status"]["reason"] == "Evicted"
        message = evicted["status"]["message"]
        assert message.startswith(f"The node was low on resource: memory. Threshold quantity: {threshold}, "
                                  "available: "), message
        assert "Container c was using " in message and ", request is 0, has larger consumption of memory. " \
            in message, message
        assert "terminated" in evicted["status"]["containerStatuses"][0]["state"]
        events = cluster.kubectl_json("get", "events", "--field-selector", "involvedObject.name=besteffort")
        assert any(e["reason"] == "Evicted" and e["type"] == "Warning" and e["message"] == message
                   for e in events["items"]), events["items"]

        # pressure stays, so the next pass takes the Guaranteed pod: later, never before
        wait_for(lambda: phase(cluster, "guaranteed") == "Failed", timeout=60, message="the second eviction")
        assert disruption_time(evicted) < disruption_time(get(cluster, "guaranteed"))
        assert phase(cluster, f"keeper-{NODE}") == "Running"  # static pods are never evicted

        # a new BestEffort pod bound straight to the node (past the scheduler's taint check) is refused
        late = pod("late")
        late["spec"]["nodeName"] = NODE
        cluster.kubectl("apply", "-f", "-", input=json.dumps(late))
        wait_for(lambda: phase(cluster, "late") == "Failed", timeout=60, message="the refusal of a new pod")
        refused = get(cluster, "late")["status"]
        assert (refused["reason"], refused["message"]) == (
            "Evicted", "Pod was rejected: The node had condition: [MemoryPressure]. ")
        assert not refused.get("containerStatuses") or all(
            "running" not in c.get("state", {}) for c in refused["containerStatuses"])
        assert "evicted" not in json.dumps(get(cluster, f"keeper-{NODE}")["status"]).lower()
    finally:
        if cluster.process.poll() is None:
            stop_server(cluster)
        _, left = killall_sync(cluster.data_dir)
        assert not left, left
        run("rm", "-rf", str(tmp), check=False)
