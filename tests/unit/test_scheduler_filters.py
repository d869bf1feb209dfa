"""NodeName, NodeUnschedulable, TaintToleration, NodePorts and NodeAffinity, as pure functions."""

from __future__ import annotations

from kubeherd.scheduler.framework import default_normalize_score
from kubeherd.scheduler.plugins import (
    node_affinity,
    node_name,
    node_ports,
    node_unschedulable,
    taint_toleration,
)
from tests.unit.test_scheduler_builders import container, make_node, node_info, pod_info

GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}


def test_node_name_pins_the_pod() -> None:
    assert node_name.fits(pod_info("p", node_name="n1"), node_info(make_node("n1")))
    assert not node_name.fits(pod_info("p", node_name="n1"), node_info(make_node("n2")))
    assert node_name.fits(pod_info("p"), node_info(make_node("n2")))


def test_cordoned_node_takes_only_pods_tolerating_unschedulable() -> None:
    cordoned = node_info(make_node("n1", unschedulable=True))
    assert not node_unschedulable.fits(pod_info("web"), cordoned)
    daemon = pod_info("ds", tolerations=[{"key": "node.kubernetes.io/unschedulable", "operator": "Exists",
                                          "effect": "NoSchedule"}])
    assert node_unschedulable.fits(daemon, cordoned)
    assert node_unschedulable.fits(pod_info("web"), node_info(make_node("n2")))


def test_untolerated_no_schedule_taint_rejects_with_upstream_reason() -> None:
    node = node_info(make_node("gpu-1", taints=[GPU_TAINT]))
    assert taint_toleration.fits(pod_info("web"), node) == "node(s) had untolerated taint {nvidia.com/gpu: present}"
    equal = pod_info("train", tolerations=[{"key": "nvidia.com/gpu", "operator": "Equal", "value": "present",
                                            "effect": "NoSchedule"}])
    exists = pod_info("train", tolerations=[{"key": "nvidia.com/gpu", "operator": "Exists"}])
    wrong_value = pod_info("train", tolerations=[{"key": "nvidia.com/gpu", "value": "absent"}])
    everything = pod_info("agent", tolerations=[{"operator": "Exists"}])
    assert taint_toleration.fits(equal, node) is None
    assert taint_toleration.fits(exists, node) is None
    assert taint_toleration.fits(everything, node) is None
    assert taint_toleration.fits(wrong_value, node) is not None


def test_no_execute_taints_filter_and_prefer_no_schedule_do_not() -> None:
    evicting = node_info(make_node("n1", taints=[{"key": "maintenance", "effect": "NoExecute"}]))
    assert taint_toleration.fits(pod_info("p"), evicting) == "node(s) had untolerated taint {maintenance: }"
    soft = node_info(make_node("n2", taints=[{"key": "spot", "value": "true", "effect": "PreferNoSchedule"}]))
    assert taint_toleration.fits(pod_info("p"), soft) is None


def test_prefer_no_schedule_scoring_counts_intolerable_taints_and_reverses() -> None:
    soft = {"key": "spot", "value": "true", "effect": "PreferNoSchedule"}
    nodes = [node_info(make_node("clean")), node_info(make_node("spot", taints=[soft])),
             node_info(make_node("spot2", taints=[soft, {"key": "old", "effect": "PreferNoSchedule"}]))]
    pod = pod_info("p")
    tols = taint_toleration.prefer_no_schedule_tolerations(pod)
    scores = [taint_toleration.count_intolerable_prefer_no_schedule(n, tols) for n in nodes]
    assert scores == [0, 1, 2]
    default_normalize_score(scores, reverse=True)
    assert scores == [100, 50, 0]
    tolerant = pod_info("batch", tolerations=[{"key": "spot", "operator": "Exists", "effect": "PreferNoSchedule"}])
    tols = taint_toleration.prefer_no_schedule_tolerations(tolerant)
    assert [taint_toleration.count_intolerable_prefer_no_schedule(n, tols) for n in nodes] == [0, 0, 1]


def test_host_port_conflicts_on_the_same_protocol() -> None:
    node = node_info(make_node("n1"), pod_info("ingress", node_name="n1", containers=[
        container(ports=[{"containerPort": 80, "hostPort": 80}])]))
    web = pod_info("web", containers=[container(ports=[{"containerPort": 8080, "hostPort": 80}])])
    dns = pod_info("dns", containers=[container(ports=[{"containerPort": 80, "hostPort": 80, "protocol": "UDP"}])])
    assert not node_ports.fits(web, node)
    assert node_ports.fits(dns, node)
    assert node_ports.fits(web, node_info(make_node("n2")))


def test_node_selector_and_required_affinity_must_both_match() -> None:
    ssd = node_info(make_node("ssd-1", labels={"disk": "ssd", "zone": "a"}))
    hdd = node_info(make_node("hdd-1", labels={"disk": "hdd", "zone": "a"}))
    pod = pod_info("db", nodeSelector={"disk": "ssd"})
    assert node_affinity.fits(pod, ssd) and not node_affinity.fits(pod, hdd)
    both = pod_info("db", nodeSelector={"disk": "ssd"}, affinity={"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["b"]}]}]}}})
    assert not node_affinity.fits(both, ssd)


def test_preferred_node_affinity_sums_matching_weights_then_scales_to_100() -> None:
    pod = pod_info("web", affinity={"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 80, "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}},
        {"weight": 20, "preference": {"matchExpressions": [{"key": "disk", "operator": "Exists"}]}},
    ]}})
    nodes = [node_info(make_node("a-ssd", labels={"zone": "a", "disk": "ssd"})),
             node_info(make_node("a", labels={"zone": "a"})),
             node_info(make_node("b-ssd", labels={"zone": "b", "disk": "ssd"})),
             node_info(make_node("b", labels={"zone": "b"}))]
    scores = [node_affinity.preferred_score(pod, n) for n in nodes]
    assert scores == [100, 80, 20, 0]
    half = [50, 40, 10, 0]
    default_normalize_score(half)
    assert half == [100, 80, 20, 0]
