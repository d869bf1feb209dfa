"""The scheduler inside a real server: pods placed on Node objects created through the API.

Nodes here are plain API objects (no kubelet): their allocatable, labels and taints are what the
scheduler sees. Pods bound to them stay Pending (nothing runs them); where a test needs a pod to
go away for good, it finishes the deletion as a kubelet would.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.conftest import Cluster, start_server, stop_server, wait_for

Obj = dict[str, Any]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    # node heartbeats are not simulated here: keep the node lifecycle controller from tainting them
    c = start_server(tmp_path_factory.mktemp("scheduler"), ["--node-monitor-grace-period", "3600"])
    yield c
    stop_server(c)


@pytest.fixture(scope="module")
def core(cluster: Cluster) -> Iterator[Any]:
    from kubernetes import client, config

    api = client.CoreV1Api(config.new_client_from_config(str(cluster.kubeconfig)))
    yield api
    api.api_client.close()


class Nodes:
    """Creates Node objects with a status, and removes them (and the test's pods) afterwards."""

    def __init__(self, core: Any) -> None:
        self.core = core
        self.names: list[str] = []

    def add(self, name: str, cpu: str = "2", memory: str = "8Gi", pods: str = "110", *,
            labels: dict[str, str] | None = None, taints: list[Obj] | None = None, unschedulable: bool = False) -> None:
        body = {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
                "spec": {"taints": taints or [], "unschedulable": unschedulable}}
        self.core.create_node(body)
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        resources = {"cpu": cpu, "memory": memory, "pods": pods}
        self.core.patch_node_status(name, {"status": {
            "capacity": resources, "allocatable": resources,
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "lastHeartbeatTime": now,
                            "lastTransitionTime": now}]}})
        self.names.append(name)

    def remove_all(self) -> None:
        for name in self.names:
            self.core.delete_node(name)


@pytest.fixture
def ns(cluster: Cluster, core: Any, request: pytest.FixtureRequest) -> Iterator[str]:
    name = request.node.name.replace("_", "-")[:50].rstrip("-")
    cluster.kubectl("create", "namespace", name, version="1.27")
    yield name
    cluster.kubectl("delete", "deployments,pods", "--all", "-n", name, "--grace-period=0", "--force",
                    "--wait=false", version="1.27", check=False)


@pytest.fixture
def nodes(core: Any) -> Iterator[Nodes]:
    n = Nodes(core)
    yield n
    n.remove_all()


def pod(name: str, cpu: str = "100m", **spec: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": spec.pop("labels", {})},
            "spec": {"containers": [{"name": "app", "image": "registry.example/app:1.0",
                                     "resources": {"requests": {"cpu": cpu}}}],
                     "terminationGracePeriodSeconds": 1, **spec}}


def create(cluster: Cluster, ns: str, *objs: Obj) -> None:
    cluster.kubectl("create", "-n", ns, "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List",
                                                                      "items": list(objs)}), version="1.27")


def get_pod(core: Any, ns: str, name: str) -> Obj:
    return core.api_client.sanitize_for_serialization(core.read_namespaced_pod(name, ns))


def scheduled_condition(p: Obj) -> Obj | None:
    return next((c for c in (p.get("status") or {}).get("conditions") or [] if c["type"] == "PodScheduled"), None)


def wait_node(core: Any, ns: str, name: str, timeout: float = 15) -> str:
    def bound() -> str:
        return (get_pod(core, ns, name).get("spec") or {}).get("nodeName") or ""

    return wait_for(bound, timeout, 0.1, f"pod {ns}/{name} to be scheduled")


def wait_unschedulable(core: Any, ns: str, name: str, contains: str = "", timeout: float = 15) -> str:
    def message() -> str:
        c = scheduled_condition(get_pod(core, ns, name))
        if c and c["status"] == "False" and c.get("reason") == "Unschedulable" and contains in c.get("message", ""):
            return str(c["message"])
        return ""

    return wait_for(message, timeout, 0.1, f"pod {ns}/{name} to be unschedulable ({contains})")


def events(core: Any, ns: str, name: str, reason: str) -> list[str]:
    items = core.list_namespaced_event(ns, field_selector=f"involvedObject.name={name}").items
    return [e.message for e in items if e.reason == reason]


def test_resources_exhausted_stays_pending_with_upstreams_message(cluster: Cluster, core: Any, ns: str,
                                                                   nodes: Nodes) -> None:
    nodes.add("infra-1", cpu="8", taints=[{"key": "dedicated", "value": "infra", "effect": "NoSchedule"}])
    nodes.add("worker-1", cpu="2")
    nodes.add("worker-2", cpu="2")
    create(cluster, ns, pod("big", cpu="3"), pod("small", cpu="1"))
    expected = ("0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: infra}, 2 Insufficient cpu. "
                "preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, "
                "2 No preemption victims found for incoming pod.")
    assert wait_unschedulable(core, ns, "big") == expected
    wait_for(lambda: events(core, ns, "big", "FailedScheduling") == [expected], 10, 0.1, "FailedScheduling event")
    node = wait_node(core, ns, "small")
    assert node in ("worker-1", "worker-2")
    assert scheduled_condition(get_pod(core, ns, "small"))["status"] == "True"  # type: ignore[index]
    wait_for(lambda: events(core, ns, "small", "Scheduled") == [f"Successfully assigned {ns}/small to {node}"],
             10, 0.1, "Scheduled event")
    described = cluster.kubectl("describe", "pod", "big", "-n", ns).stdout
    assert "FailedScheduling" in described and "2 Insufficient cpu" in described
    # a bigger node arriving is the event that brings the pending pod back
    nodes.add("worker-3", cpu="4")
    assert wait_node(core, ns, "big") == "worker-3"


def test_taints_and_tolerations(cluster: Cluster, core: Any, ns: str, nodes: Nodes) -> None:
    nodes.add("gpu-1", taints=[{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}])
    tolerant = pod("train", tolerations=[{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}])
    create(cluster, ns, pod("web"), tolerant)
    assert wait_node(core, ns, "train") == "gpu-1"
    assert "1 node(s) had untolerated taint {nvidia.com/gpu: present}" in wait_unschedulable(core, ns, "web")
    # tolerating the taint later (tolerations may be added to a pending pod) lets it in
    cluster.kubectl("patch", "pod", "web", "-n", ns, "--type=json", "-p", json.dumps([
        {"op": "add", "path": "/spec/tolerations/-", "value": {"key": "nvidia.com/gpu", "operator": "Exists"}}]),
        version="1.27")
    assert wait_node(core, ns, "web") == "gpu-1"


def test_required_and_preferred_node_affinity(cluster: Cluster, core: Any, ns: str, nodes: Nodes) -> None:
    for name, zone in (("node-a", "a"), ("node-b", "b"), ("node-c", "c")):
        nodes.add(name, labels={"topology.kubernetes.io/zone": zone})
    required = pod("pinned", affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [{"key": "topology.kubernetes.io/zone", "operator": "In",
                                                     "values": ["b"]}]}]}}})
    preferred = pod("leaning", affinity={"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 50, "preference": {"matchExpressions": [{"key": "topology.kubernetes.io/zone", "operator": "In",
                                                            "values": ["c"]}]}}]}})
    nowhere = pod("nowhere", nodeSelector={"disktype": "ssd"})
    create(cluster, ns, required, preferred, nowhere)
    assert wait_node(core, ns, "pinned") == "node-b"
    assert wait_node(core, ns, "leaning") == "node-c"
    assert wait_unschedulable(core, ns, "nowhere").startswith(
        "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.")
    cluster.kubectl("label", "node", "node-a", "disktype=ssd", version="1.27")
    assert wait_node(core, ns, "nowhere") == "node-a"


def deployment(name: str, replicas: int, pod_spec: Obj) -> Obj:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": pod_spec}}}


def placements(core: Any, ns: str, app: str) -> list[str]:
    return [p.spec.node_name or "" for p in core.list_namespaced_pod(ns, label_selector=f"app={app}").items]


def test_anti_affinity_spreads_a_deployments_replicas(cluster: Cluster, core: Any, ns: str, nodes: Nodes) -> None:
    for i in range(3):
        nodes.add(f"host-{i}", cpu="8")
    spec = pod("x")["spec"]
    spec["affinity"] = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "kubernetes.io/hostname"}]}}
    create(cluster, ns, deployment("web", 4, spec))

    def three_placed() -> list[str]:
        where = placements(core, ns, "web")
        return where if len(where) == 4 and len([n for n in where if n]) == 3 else []

    where = wait_for(three_placed, 30, 0.2, "three replicas placed")
    assert sorted(n for n in where if n) == ["host-0", "host-1", "host-2"]
    pending = next(p.metadata.name for p in core.list_namespaced_pod(ns, label_selector="app=web").items
                   if not p.spec.node_name)
    assert "3 node(s) didn't match pod anti-affinity rules" in wait_unschedulable(core, ns, pending)


def test_topology_spread_across_zones(cluster: Cluster, core: Any, ns: str, nodes: Nodes) -> None:
    for name, zone in (("a-1", "a"), ("a-2", "a"), ("a-3", "a"), ("b-1", "b")):
        nodes.add(name, cpu="8", labels={"topology.kubernetes.io/zone": zone})
    spec = pod("x")["spec"]
    spec["topologySpreadConstraints"] = [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                                          "whenUnsatisfiable": "DoNotSchedule",
                                          "labelSelector": {"matchLabels": {"app": "api"}}}]
    create(cluster, ns, deployment("api", 6, spec))
    zone = {"a-1": "a", "a-2": "a", "a-3": "a", "b-1": "b"}

    def spread() -> list[str]:
        where = placements(core, ns, "api")
        return where if len(where) == 6 and all(where) else []

    where = wait_for(spread, 30, 0.2, "six replicas placed")
    assert sorted(zone[n] for n in where) == ["a", "a", "a", "b", "b", "b"]


def test_preemption_of_a_low_priority_pod(cluster: Cluster, core: Any, ns: str, nodes: Nodes) -> None:
    cluster.kubectl("create", "-f", "-", version="1.27", check=False, input=json.dumps({
        "apiVersion": "v1", "kind": "List", "items": [
            {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "batch-low"},
             "value": 10},
            {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "prod-high"},
             "value": 100000}]}))
    nodes.add("only-node", cpu="2")
    create(cluster, ns, pod("batch", cpu="2", priorityClassName="batch-low"))
    assert wait_node(core, ns, "batch") == "only-node"
    create(cluster, ns, pod("prod", cpu="1", priorityClassName="prod-high"))

    def victim_marked() -> Obj | None:
        p = get_pod(core, ns, "batch")
        if not p["metadata"].get("deletionTimestamp"):
            return None
        return next((c for c in p["status"].get("conditions") or [] if c["type"] == "DisruptionTarget"), None)

    condition = wait_for(victim_marked, 15, 0.1, "the low-priority pod to be preempted")
    assert condition["reason"] == "PreemptionByScheduler"
    assert condition["message"] == "default-scheduler: preempting to accommodate a higher priority pod"
    prod = get_pod(core, ns, "prod")
    assert prod["status"].get("nominatedNodeName") == "only-node" and not prod["spec"].get("nodeName")
    uid = prod["metadata"]["uid"]
    wait_for(lambda: events(core, ns, "batch", "Preempted") == [f"Preempted by pod {uid} on node only-node"],
             10, 0.1, "Preempted event")
    # the kubelet would stop the victim and finish its deletion; only then does the preemptor fit
    core.delete_namespaced_pod("batch", ns, grace_period_seconds=0)
    assert wait_node(core, ns, "prod") == "only-node"


def test_cordoned_node_gets_no_new_pods(cluster: Cluster, core: Any, ns: str, nodes: Nodes) -> None:
    nodes.add("cordoned", cpu="8")
    nodes.add("open", cpu="1")
    cluster.kubectl("patch", "node", "cordoned", "--type=merge", "-p", '{"spec":{"unschedulable":true}}',
                    version="1.27")
    create(cluster, ns, *(pod(f"p{i}", cpu="200m") for i in range(4)), pod("pinned", nodeSelector={
        "kubernetes.io/hostname": "cordoned"}))
    for i in range(4):
        assert wait_node(core, ns, f"p{i}") == "open"
    assert "1 node(s) were unschedulable" in wait_unschedulable(core, ns, "pinned")
    cluster.kubectl("patch", "node", "cordoned", "--type=merge", "-p", '{"spec":{"unschedulable":false}}',
                    version="1.27")
    assert wait_node(core, ns, "pinned") == "cordoned"


def test_binding_subresource_and_other_schedulers(cluster: Cluster, core: Any, ns: str, nodes: Nodes) -> None:
    from kubernetes.client import ApiException

    nodes.add("manual-1")
    create(cluster, ns, pod("theirs", schedulerName="my-scheduler"), pod("legacy", schedulerName="my-scheduler"))
    time.sleep(0.5)
    assert not get_pod(core, ns, "theirs")["spec"].get("nodeName")
    assert scheduled_condition(get_pod(core, ns, "theirs")) is None  # the default scheduler leaves it alone
    binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "theirs"},
               "target": {"apiVersion": "v1", "kind": "Node", "name": "manual-1"}}
    # (the response is a Status, which this client cannot read as a Binding: take it raw)
    core.create_namespaced_pod_binding("theirs", ns, binding, _preload_content=False)
    bound = get_pod(core, ns, "theirs")
    assert bound["spec"]["nodeName"] == "manual-1" and scheduled_condition(bound)["status"] == "True"  # type: ignore[index]
    with pytest.raises(ApiException) as err:
        core.create_namespaced_pod_binding("theirs", ns, binding, _preload_content=False)
    assert err.value.status == 409
    assert 'pod theirs is already assigned to node "manual-1"' in json.loads(err.value.body)["message"]
    # the older `bindings` collection does the same
    core.create_namespaced_binding(ns, {**binding, "metadata": {"name": "legacy"}}, _preload_content=False)
    assert get_pod(core, ns, "legacy")["spec"]["nodeName"] == "manual-1"
