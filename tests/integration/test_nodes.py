"""Simulated nodes, node IPAM and node lifecycle: heartbeats, NotReady, taints, taint eviction."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import Cluster, start_server, stop_server, wait_for


@pytest.fixture(scope="module")
def fast_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = start_server(tmp_path_factory.mktemp("nodes"), ["--simulate-nodes", "2", "--node-monitor-grace-period", "4"])
    yield c
    stop_server(c)


def start_sim(cluster: Cluster, prefix: str, nodes: int) -> subprocess.Popen[str]:
    process = subprocess.Popen([sys.executable, "-m", "kubeherd.cli.main", "sim", "--kubeconfig",
                                str(cluster.kubeconfig), "--nodes", str(nodes), "--prefix", prefix, "--heartbeat", "1"],
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    assert "simulated nodes registered" in process.stdout.readline()
    return process


def node(cluster: Cluster, name: str) -> dict:
    return cluster.kubectl_json("get", "node", name)


def test_simulated_nodes_register_and_run_pods(fast_cluster: Cluster) -> None:
    c = fast_cluster
    lines = c.kubectl("get", "nodes").stdout.splitlines()
    assert [line.split()[:2] for line in lines[1:]] == [["sim-node-0", "Ready"], ["sim-node-1", "Ready"]]
    cidrs = {node(c, n)["spec"]["podCIDR"] for n in ("sim-node-0", "sim-node-1")}
    assert cidrs == {"10.42.0.0/24", "10.42.1.0/24"}
    pods = "\n---\n".join([
        "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec: {nodeName: sim-node-1, containers: [{name: c, image: x}]}",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: job}\nspec: {nodeName: sim-node-0, restartPolicy: Never, "
        "containers: [{name: c, image: x}]}",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: fails, annotations: {sim.kubeherd.io/exit-code: '3'}}\n"
        "spec: {nodeName: sim-node-0, restartPolicy: Never, containers: [{name: c, image: x}]}",
    ])
    c.kubectl("create", "-f", "-", input=pods, version="1.27")
    c.kubectl("wait", "--for=condition=Ready", "pod/web", "--timeout=20s")
    web = c.kubectl_json("get", "pod", "web")
    assert web["status"]["podIP"].startswith("10.42.1.") and web["status"]["phase"] == "Running"
    wait_for(lambda: c.kubectl_json("get", "pod", "job")["status"]["phase"] == "Succeeded", message="job succeeded")
    failed = wait_for(lambda: (p := c.kubectl_json("get", "pod", "fails"))["status"]["phase"] == "Failed" and p,
                      message="pod failed")
    assert failed["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 3
    c.kubectl("delete", "pod", "web", "--timeout=20s")  # graceful deletion completes


def test_silent_node_goes_unknown_and_its_pods_are_evicted(fast_cluster: Cluster) -> None:
    c = fast_cluster
    sim = start_sim(c, "doomed-", 1)
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "victim"},
           "spec": {"nodeName": "doomed-0", "containers": [{"name": "c", "image": "x"}],
                    "tolerations": [{"key": "node.kubernetes.io/unreachable", "operator": "Exists",
                                     "effect": "NoExecute", "tolerationSeconds": 2}]}}
    stays = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "tolerant"},
             "spec": {"nodeName": "doomed-0", "containers": [{"name": "c", "image": "x"}],
                      "tolerations": [{"operator": "Exists"}]}}
    c.kubectl("create", "-f", "-", input=json.dumps(pod), version="1.27")
    c.kubectl("create", "-f", "-", input=json.dumps(stays), version="1.27")
    c.kubectl("wait", "--for=condition=Ready", "pod/victim", "--timeout=20s")
    sim.send_signal(signal.SIGKILL)
    sim.wait()
    ready = wait_for(lambda: (r := next(x for x in node(c, "doomed-0")["status"]["conditions"]
                                        if x["type"] == "Ready"))["status"] == "Unknown" and r,
                     timeout=30, message="node Ready=Unknown")
    assert ready["reason"] == "NodeStatusUnknown" and ready["message"] == "Kubelet stopped posting node status."
    taints = wait_for(lambda: node(c, "doomed-0")["spec"].get("taints"), message="taints")
    assert {(t["key"], t["effect"]) for t in taints} == {
        ("node.kubernetes.io/unreachable", "NoSchedule"), ("node.kubernetes.io/unreachable", "NoExecute")}
    assert "NotReady" in c.kubectl("get", "node", "doomed-0").stdout
    # evicted after its tolerationSeconds: marked for deletion (no kubelet is left to finish it)
    evicted = wait_for(lambda: (p := c.kubectl_json("get", "pod", "victim"))["metadata"].get("deletionTimestamp")
                       and p, timeout=30, message="victim marked for deletion")
    assert any(cond["type"] == "DisruptionTarget" for cond in evicted["status"]["conditions"])
    assert not c.kubectl_json("get", "pod", "tolerant")["metadata"].get("deletionTimestamp")
    events = c.kubectl("get", "events", "--field-selector", "reason=TaintManagerEviction").stdout
    assert "Marking for deletion Pod default/victim" in events


def test_cordon_taints_node(fast_cluster: Cluster) -> None:
    c = fast_cluster
    c.kubectl("patch", "node", "sim-node-0", "--type=merge", "-p", '{"spec":{"unschedulable":true}}')
    taints = wait_for(lambda: node(c, "sim-node-0")["spec"].get("taints"), message="unschedulable taint")
    assert taints[0]["key"] == "node.kubernetes.io/unschedulable" and taints[0]["effect"] == "NoSchedule"
    assert "Ready,SchedulingDisabled" in c.kubectl("get", "node", "sim-node-0").stdout
    c.kubectl("patch", "node", "sim-node-0", "--type=merge", "-p", '{"spec":{"unschedulable":null}}')
    wait_for(lambda: not node(c, "sim-node-0")["spec"].get("taints"), message="taint removed")


def test_sim_cli_rejects_bad_kubeconfig(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "kubeherd.cli.main", "sim", "--kubeconfig",
                             str(tmp_path / "missing.yaml")], capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr.startswith("kubeherd sim:") and len(result.stderr.strip().splitlines()) == 1


def test_pods_of_a_dead_node_are_recreated_elsewhere(fast_cluster: Cluster) -> None:
    c = fast_cluster
    sim = start_sim(c, "lost-", 1)
    rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "moves"},
          "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "moves"}},
                   "template": {"metadata": {"labels": {"app": "moves"}}, "spec": {
                       "containers": [{"name": "c", "image": "x"}],
                       # prefer the node that is about to die, and leave it soon once it is unreachable
                       "affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
                           "weight": 100, "preference": {"matchExpressions": [{
                               "key": "kubernetes.io/hostname", "operator": "In", "values": ["lost-0"]}]}}]}},
                       "tolerations": [{"key": "node.kubernetes.io/unreachable", "operator": "Exists",
                                        "effect": "NoExecute", "tolerationSeconds": 2}]}}}}
    c.kubectl("create", "-f", "-", input=json.dumps(rs), version="1.27")

    def pods() -> list[dict]:
        return c.kubectl_json("get", "pods", "-l", "app=moves")["items"]

    first = wait_for(lambda: [p for p in pods() if p["spec"].get("nodeName") == "lost-0"
                              and p["status"].get("phase") == "Running"], timeout=30, message="pod on lost-0")
    sim.send_signal(signal.SIGKILL)
    sim.wait()
    # NotReady → unreachable NoExecute taint → evicted after 2 s → the ReplicaSet makes a new pod,
    # which the scheduler puts on a live node, where it runs
    moved = wait_for(lambda: [p for p in pods() if p["metadata"]["uid"] != first[0]["metadata"]["uid"]
                              and p["spec"].get("nodeName", "").startswith("sim-node-")
                              and p["status"].get("phase") == "Running"], timeout=60, message="replacement runs")
    assert len(moved) == 1
