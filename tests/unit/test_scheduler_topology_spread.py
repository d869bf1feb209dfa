"""PodTopologySpread as pure functions: skew, minDomains, inclusion policies, default constraints, scoring."""

from __future__ import annotations

from typing import Any

from kubeherd.scheduler.listers import StaticListers
from kubeherd.scheduler.nodeinfo import NodeInfo
from kubeherd.scheduler.plugins import pod_topology_spread as pts
from kubeherd.scheduler.podinfo import PodInfo
from tests.unit.test_scheduler_builders import make_node, pod_info

ZONE = "topology.kubernetes.io/zone"
HOST = "kubernetes.io/hostname"


def spread(max_skew: int = 1, key: str = ZONE, **extra: Any) -> dict[str, Any]:
    return {"maxSkew": max_skew, "topologyKey": key, "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": {"app": "web"}}, **extra}


def web(name: str, node: str = "", **kw: Any) -> PodInfo:
    return pod_info(name, labels={"app": "web"}, node_name=node, **kw)


def cluster(pods: list[PodInfo], zones: dict[str, str], **node_kw: Any) -> list[NodeInfo]:
    nodes = {name: NodeInfo(make_node(name, zone=zone, **node_kw.get(name, {}))) for name, zone in zones.items()}
    for p in pods:
        nodes[p.node_name].add_pod(p)
    return list(nodes.values())


def node(nodes: list[NodeInfo], name: str) -> NodeInfo:
    return next(n for n in nodes if n.name == name)


ZONES = {"a1": "a", "a2": "a", "b1": "b"}


def test_placing_in_the_fuller_zone_would_exceed_max_skew() -> None:
    nodes = cluster([web("w1", "a1"), web("w2", "a2"), web("w3", "b1")], ZONES)
    pod = web("w4", topologySpreadConstraints=[spread()])
    assert pts.fits(pod, node(nodes, "a1"), nodes) == pts.ERR_REASON_CONSTRAINTS_NOT_MATCH  # 2+1-1 = 2 > 1
    assert pts.fits(pod, node(nodes, "b1"), nodes) is None  # 1+1-1 = 1
    relaxed = web("w4", topologySpreadConstraints=[spread(max_skew=2)])
    assert pts.fits(relaxed, node(nodes, "a1"), nodes) is None


def test_nodes_without_the_topology_key_are_rejected() -> None:
    nodes = cluster([], {"a1": "a", "bare": ""})
    pod = web("w", topologySpreadConstraints=[spread()])
    assert pts.fits(pod, node(nodes, "bare"), nodes) == pts.ERR_REASON_NODE_LABEL_NOT_MATCH


def test_pods_not_matching_the_selector_or_terminating_do_not_count() -> None:
    nodes = cluster([web("w1", "a1"), pod_info("db", labels={"app": "db"}, node_name="b1"),
                     web("leaving", "b1", terminating=True)], ZONES)
    pod = web("w2", topologySpreadConstraints=[spread()])
    assert pts.fits(pod, node(nodes, "b1"), nodes) is None
    assert pts.fits(pod, node(nodes, "a1"), nodes) == pts.ERR_REASON_CONSTRAINTS_NOT_MATCH


def test_min_domains_counts_missing_domains_as_empty() -> None:
    nodes = cluster([web("w1", "a1"), web("w2", "b1")], ZONES)
    pod = web("w3", topologySpreadConstraints=[spread(minDomains=3)])
    # only two zones exist: the global minimum is taken as 0, so 1+1-0 > 1 everywhere
    assert pts.fits(pod, node(nodes, "a1"), nodes) == pts.ERR_REASON_CONSTRAINTS_NOT_MATCH
    assert pts.fits(pod, node(nodes, "b1"), nodes) == pts.ERR_REASON_CONSTRAINTS_NOT_MATCH
    assert pts.fits(web("w3", topologySpreadConstraints=[spread(minDomains=2)]), node(nodes, "a1"), nodes) is None


def test_node_affinity_policy_honor_ignores_domains_the_pod_cannot_use() -> None:
    zones = {"a1": "a", "b1": "b", "c1": "c"}
    nodes = cluster([web("w1", "a1"), web("w2", "b1")], zones, c1={"labels": {"pool": "batch"}})
    selector = {"nodeSelector": {"kubernetes.io/os": "linux"}, "affinity": {"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "pool", "operator": "DoesNotExist"}]}]}}}}
    honor = web("w3", topologySpreadConstraints=[spread()], **selector)
    assert pts.fits(honor, node(nodes, "a1"), nodes) is None  # zone c is not eligible: min is 1
    ignore = web("w3", topologySpreadConstraints=[spread(nodeAffinityPolicy="Ignore")], **selector)
    assert pts.fits(ignore, node(nodes, "a1"), nodes) == pts.ERR_REASON_CONSTRAINTS_NOT_MATCH


def test_node_taints_policy_honor_skips_tainted_domains() -> None:
    taint = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}
    nodes = cluster([web("w1", "a1"), web("w2", "b1")], {"a1": "a", "b1": "b", "c1": "c"},
                    c1={"taints": [taint]})
    assert pts.fits(web("w", topologySpreadConstraints=[spread()]), node(nodes, "a1"), nodes) is not None
    honor = web("w", topologySpreadConstraints=[spread(nodeTaintsPolicy="Honor")])
    assert pts.fits(honor, node(nodes, "a1"), nodes) is None


def test_match_label_keys_split_counts_by_revision() -> None:
    old = [pod_info(f"old-{i}", labels={"app": "web", "pod-template-hash": "v1"}, node_name="a1") for i in range(3)]
    nodes = cluster(old, ZONES)
    pod = pod_info("new", labels={"app": "web", "pod-template-hash": "v2"},
                   topologySpreadConstraints=[spread(matchLabelKeys=["pod-template-hash"])])
    assert pts.fits(pod, node(nodes, "a2"), nodes) is None  # v1 pods are not counted against v2


def test_default_constraints_use_the_owning_replicaset_selector() -> None:
    listers = StaticListers()
    listers.add({"kind": "ReplicaSet", "metadata": {"name": "web-6f7", "namespace": "default"},
                 "spec": {"selector": {"matchLabels": {"app": "web"}}}})
    owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-6f7", "uid": "rs-uid"}
    pod = web("w", owner=owner)
    constraints = pts.build_default_constraints(pod, listers, pts.SCHEDULE_ANYWAY)
    assert [(c.topology_key, c.max_skew) for c in constraints] == [(HOST, 3), (ZONE, 5)]
    assert constraints[0].selector.matches({"app": "web", "pod-template-hash": "x"})
    assert pts.build_default_constraints(pod, listers, pts.DO_NOT_SCHEDULE) == []  # defaults never filter
    assert pts.build_default_constraints(web("orphan"), listers, pts.SCHEDULE_ANYWAY) == []  # nothing to spread


def test_default_constraints_merge_service_selectors() -> None:
    listers = StaticListers()
    listers.add({"kind": "Service", "metadata": {"name": "web", "namespace": "default"},
                 "spec": {"selector": {"app": "web"}}})
    listers.add({"kind": "Service", "metadata": {"name": "db", "namespace": "default"},
                 "spec": {"selector": {"app": "db"}}})
    selector = pts.default_selector(web("w"), listers)
    assert str(selector) == "app in (web)"


def test_scoring_prefers_nodes_and_zones_with_fewer_matching_pods() -> None:
    nodes = cluster([web("w1", "a1"), web("w2", "a1"), web("w3", "a2")], {"a1": "a", "a2": "a", "b1": "b"})
    listers = StaticListers()
    listers.add({"kind": "Service", "metadata": {"name": "web", "namespace": "default"},
                 "spec": {"selector": {"app": "web"}}})
    pod = web("w4")
    constraints = pts.build_default_constraints(pod, listers, pts.SCHEDULE_ANYWAY)
    s = pts.compute_score_state(pod, constraints, nodes, nodes, require_all_topologies=False)
    raw = [pts.score_node(s, n) for n in nodes]
    # hostname weight log(3+2), zone weight log(2+2): a1 = 2*1.609+2 + 3*1.386+4 ...
    assert raw[0] > raw[1] > raw[2]
    pts.normalize_spread_scores(s, nodes, raw)
    assert raw[2] == 100 and raw[0] < raw[1] < raw[2]


def test_scoring_ignores_nodes_missing_keys_of_the_pods_own_constraints() -> None:
    nodes = cluster([web("w1", "a1")], {"a1": "a", "bare": ""})
    soft = dict(spread(), whenUnsatisfiable="ScheduleAnyway")
    pod = web("w2", topologySpreadConstraints=[soft])
    constraints = pts.parse_constraints(pod.spread_constraints, pod.labels, pts.SCHEDULE_ANYWAY)
    s = pts.compute_score_state(pod, constraints, nodes, nodes, require_all_topologies=True)
    assert s.ignored == {"bare"}
    raw = [pts.score_node(s, n) for n in nodes]
    pts.normalize_spread_scores(s, nodes, raw)
    assert raw == [100, 0]
