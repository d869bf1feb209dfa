"""DaemonSets driven by the real kubectl, on Node objects the test creates (no kubelets, no scheduler).

Daemon pods are not bound here (no scheduler yet): the controller ties each pod to its node with
`matchFields metadata.name In [node]` affinity and counts it for that node, which is what these
tests check, with pods made Running and Ready by the test.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import pytest

from tests.integration.conftest import Cluster, run_pods, wait_for
from tests.integration.test_statefulset import Kubelet, namespace_for


def create_node(cluster: Cluster, name: str, labels: dict[str, str] | None = None,
                taints: list[dict] | None = None) -> None:
    """Register a node as a kubelet would: the Node, then a Ready status (create drops status)."""
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels or {}},
            "spec": {"taints": taints or []}}
    cluster.kubectl("create", "-f", "-", input=json.dumps(node), version="1.27")
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    ready = {"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status",
             "lastHeartbeatTime": now, "lastTransitionTime": now}
    cluster.kubectl("patch", "node", name, "--subresource=status", "--type=merge", "-p",
                    json.dumps({"status": {"conditions": [ready]}}))
    # the node lifecycle controller may have tainted it unreachable before the status came
    wait_for(lambda: (cluster.kubectl_json("get", "node", name)["spec"].get("taints") or []) == (taints or []),
             message=f"node {name} ready and untainted")


def daemonset(name: str, image: str = "nginx:1.25", node_selector: dict[str, str] | None = None,
              **spec: object) -> str:
    pod_spec: dict = {"containers": [{"name": "agent", "image": image}]}
    if node_selector:
        pod_spec["nodeSelector"] = node_selector
    return json.dumps({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name},
                       "spec": {"selector": {"matchLabels": {"app": name}},
                                "template": {"metadata": {"labels": {"app": name}}, "spec": pod_spec}, **spec}})


def pods_by_node(cluster: Cluster, ns: str) -> dict[str, list[dict]]:
    """Live pods by the node their affinity pins them to."""
    out: dict[str, list[dict]] = {}
    for pod in cluster.kubectl_json("get", "pods", "-n", ns)["items"]:
        if pod["metadata"].get("deletionTimestamp"):
            continue
        terms = pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        (node,) = terms["nodeSelectorTerms"][0]["matchFields"][0]["values"]
        out.setdefault(node, []).append(pod)
    return out


def ds_status(cluster: Cluster, ns: str, name: str) -> dict:
    return cluster.kubectl_json("get", "daemonset", name, "-n", ns).get("status") or {}


@pytest.fixture
def ns(cluster: Cluster, request: pytest.FixtureRequest) -> str:
    return namespace_for(cluster, request)


@pytest.fixture
def kubelet(cluster: Cluster, request: pytest.FixtureRequest) -> Iterator[Kubelet]:
    k = Kubelet(cluster, namespace_for(cluster, request))
    k.thread.start()
    yield k
    k.stop.set()
    k.thread.join(5)


def test_one_pod_per_eligible_node_following_nodes(cluster: Cluster, ns: str) -> None:
    create_node(cluster, "ds-a", {"pool": "follow"})
    create_node(cluster, "ds-b", {"pool": "follow"})
    create_node(cluster, "ds-tainted", {"pool": "follow"}, [{"key": "dedicated", "value": "db", "effect": "NoSchedule"}])
    create_node(cluster, "ds-other", {"pool": "elsewhere"})
    cluster.kubectl("create", "-n", ns, "-f", "-", input=daemonset("agent", node_selector={"pool": "follow"}),
                    version="1.27")
    wait_for(lambda: sorted(pods_by_node(cluster, ns)) == ["ds-a", "ds-b"], message="a pod on each eligible node")
    pod = pods_by_node(cluster, ns)["ds-a"][0]
    assert pod["metadata"]["generateName"] == "agent-"
    required = pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert required == {"nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In",
                                                                "values": ["ds-a"]}]}]}
    tolerations = {(t["key"], t["effect"]): t for t in pod["spec"]["tolerations"]}
    assert set(tolerations) == {("node.kubernetes.io/not-ready", "NoExecute"),
                                ("node.kubernetes.io/unreachable", "NoExecute"),
                                ("node.kubernetes.io/disk-pressure", "NoSchedule"),
                                ("node.kubernetes.io/memory-pressure", "NoSchedule"),
                                ("node.kubernetes.io/pid-pressure", "NoSchedule"),
                                ("node.kubernetes.io/unschedulable", "NoSchedule")}
    assert "tolerationSeconds" not in tolerations[("node.kubernetes.io/unreachable", "NoExecute")]
    revision = cluster.kubectl_json("get", "controllerrevisions", "-n", ns)["items"][0]
    assert pod["metadata"]["labels"]["controller-revision-hash"] == revision["metadata"]["labels"][
        "controller-revision-hash"]
    assert revision["metadata"]["name"] == "agent-" + revision["metadata"]["labels"]["controller-revision-hash"]

    run_pods(cluster, ns)
    cluster.kubectl("rollout", "status", "daemonset/agent", "-n", ns, "--timeout=20s")
    status = ds_status(cluster, ns, "agent")
    assert {k: status.get(k, 0) for k in ("desiredNumberScheduled", "currentNumberScheduled", "numberReady",
                                          "updatedNumberScheduled", "numberAvailable", "numberMisscheduled",
                                          "numberUnavailable")} == {
        "desiredNumberScheduled": 2, "currentNumberScheduled": 2, "numberReady": 2, "updatedNumberScheduled": 2,
        "numberAvailable": 2, "numberMisscheduled": 0, "numberUnavailable": 0}
    assert status["observedGeneration"] == 1

    # a new node gets a pod; a deleted node's (unbound) pod goes
    create_node(cluster, "ds-c", {"pool": "follow"})
    wait_for(lambda: sorted(pods_by_node(cluster, ns)) == ["ds-a", "ds-b", "ds-c"], message="pod on the new node")
    wait_for(lambda: ds_status(cluster, ns, "agent")["desiredNumberScheduled"] == 3, message="desired 3")
    cluster.kubectl("delete", "node", "ds-b")
    wait_for(lambda: sorted(pods_by_node(cluster, ns)) == ["ds-a", "ds-c"], message="pod of the deleted node gone")
    # a toleration lets it onto the tainted node
    cluster.kubectl("patch", "daemonset", "agent", "-n", ns, "--type=merge", "-p", json.dumps(
        {"spec": {"template": {"spec": {"tolerations": [{"key": "dedicated", "operator": "Exists"}]}}}}))
    wait_for(lambda: "ds-tainted" in pods_by_node(cluster, ns), message="pod on the tolerated node")

    messages = cluster.kubectl("get", "events", "-n", ns, "-o", "jsonpath={.items[*].message}").stdout
    assert "Created pod: agent-" in messages and "Deleted pod: agent-" in messages


def test_taints_and_labels_move_pods(cluster: Cluster, ns: str) -> None:
    create_node(cluster, "ds-t1", {"pool": "taint"})
    create_node(cluster, "ds-t2", {"pool": "taint"})
    cluster.kubectl("create", "-n", ns, "-f", "-", input=daemonset("t", node_selector={"pool": "taint"}),
                    version="1.27")
    wait_for(lambda: sorted(pods_by_node(cluster, ns)) == ["ds-t1", "ds-t2"], message="two pods")
    run_pods(cluster, ns)
    # NoSchedule: the pod may stay, but the node no longer counts as desired
    cluster.kubectl("patch", "node", "ds-t1", "--type=merge", "-p",
                    '{"spec":{"taints":[{"key":"maintenance","effect":"NoSchedule"}]}}')
    wait_for(lambda: (s := ds_status(cluster, ns, "t"))["desiredNumberScheduled"] == 1
             and s["numberMisscheduled"] == 1, message="misscheduled pod counted")
    assert sorted(pods_by_node(cluster, ns)) == ["ds-t1", "ds-t2"]
    # NoExecute: it must go
    cluster.kubectl("patch", "node", "ds-t1", "--type=merge", "-p",
                    '{"spec":{"taints":[{"key":"maintenance","effect":"NoExecute"}]}}')
    wait_for(lambda: sorted(pods_by_node(cluster, ns)) == ["ds-t2"], message="pod evicted by NoExecute")
    # a node that stops matching the selector loses its pod
    cluster.kubectl("label", "node", "ds-t2", "pool=other", "--overwrite")
    wait_for(lambda: not pods_by_node(cluster, ns), message="pod removed from the relabelled node")
    wait_for(lambda: ds_status(cluster, ns, "t")["desiredNumberScheduled"] == 0, message="nothing desired")


def test_rolling_update_history_and_undo(cluster: Cluster, kubelet: Kubelet) -> None:
    ns = kubelet.namespace
    for i in range(3):
        create_node(cluster, f"ds-r{i}", {"pool": "roll"})
    cluster.kubectl("create", "-n", ns, "-f", "-", input=daemonset("roll", node_selector={"pool": "roll"}),
                    version="1.27")
    cluster.kubectl("rollout", "status", "daemonset/roll", "-n", ns, "--timeout=30s")

    counts: list[int] = []
    stop = threading.Event()

    def watch_counts() -> None:
        while not stop.is_set():
            counts.append(sum(len(p) for p in pods_by_node(cluster, ns).values()))

    watcher = threading.Thread(target=watch_counts)
    watcher.start()
    try:
        cluster.kubectl("patch", "daemonset", "roll", "-n", ns, "--type=merge", "-p", json.dumps(
            {"spec": {"template": {"spec": {"containers": [{"name": "agent", "image": "nginx:1.26"}]}}}}))
        result = cluster.kubectl("rollout", "status", "daemonset/roll", "-n", ns, "--timeout=30s")
    finally:
        stop.set()
        watcher.join()
    assert 'daemon set "roll" successfully rolled out' in result.stdout
    assert max(counts) <= 3  # maxUnavailable 1, maxSurge 0: the old pod goes before the new one comes
    images = {p[0]["spec"]["containers"][0]["image"] for p in pods_by_node(cluster, ns).values()}
    assert images == {"nginx:1.26"}

    lines = cluster.kubectl("rollout", "history", "daemonset/roll", "-n", ns).stdout.splitlines()
    assert [line.split()[0] for line in lines if line[:1].isdigit()] == ["1", "2"]
    assert "nginx:1.25" in cluster.kubectl("rollout", "history", "daemonset/roll", "-n", ns, "--revision=1").stdout

    # surge: a new pod starts beside each old one, which goes once the new one is available
    cluster.kubectl("patch", "daemonset", "roll", "-n", ns, "--type=merge", "-p", json.dumps(
        {"spec": {"updateStrategy": {"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}}}))
    counts.clear()
    stop.clear()
    watcher = threading.Thread(target=watch_counts)
    watcher.start()
    try:
        assert "rolled back" in cluster.kubectl("rollout", "undo", "daemonset/roll", "-n", ns).stdout
        cluster.kubectl("rollout", "status", "daemonset/roll", "-n", ns, "--timeout=30s")
    finally:
        stop.set()
        watcher.join()
    assert min(counts) >= 3 and max(counts) <= 4
    images = {p[0]["spec"]["containers"][0]["image"] for p in pods_by_node(cluster, ns).values()}
    assert images == {"nginx:1.25"}
    revisions = sorted(r["revision"] for r in cluster.kubectl_json("get", "controllerrevisions", "-n", ns)["items"])
    assert revisions == [2, 3]  # the first template is the newest revision again
    again = cluster.kubectl("rollout", "undo", "daemonset/roll", "-n", ns, "--to-revision=3")
    assert "skipped rollback (current template already matches revision 3)" in again.stdout


def test_on_delete_waits_for_the_user(cluster: Cluster, kubelet: Kubelet) -> None:
    ns = kubelet.namespace
    create_node(cluster, "ds-od", {"pool": "ondelete"})
    cluster.kubectl("create", "-n", ns, "-f", "-", version="1.27", input=daemonset(
        "od", node_selector={"pool": "ondelete"}, updateStrategy={"type": "OnDelete"}))
    wait_for(lambda: ds_status(cluster, ns, "od").get("numberReady") == 1, message="ready")
    cluster.kubectl("patch", "daemonset", "od", "-n", ns, "--type=merge", "-p", json.dumps(
        {"spec": {"template": {"spec": {"containers": [{"name": "agent", "image": "nginx:1.26"}]}}}}))
    wait_for(lambda: ds_status(cluster, ns, "od").get("observedGeneration") == 2, message="update observed")
    (pod,) = pods_by_node(cluster, ns)["ds-od"]
    assert pod["spec"]["containers"][0]["image"] == "nginx:1.25"
    assert ds_status(cluster, ns, "od").get("updatedNumberScheduled", 0) == 0
    cluster.kubectl("delete", "pod", pod["metadata"]["name"], "-n", ns)
    wait_for(lambda: [p["spec"]["containers"][0]["image"] for p in pods_by_node(cluster, ns).get("ds-od", [])]
             == ["nginx:1.26"], message="replacement at the new template")
