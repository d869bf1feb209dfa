"""InterPodAffinity as pure functions: required affinity/anti-affinity and preferred scoring."""

from __future__ import annotations

from typing import Any

from kubeherd.scheduler.framework import CycleState
from kubeherd.scheduler.nodeinfo import NodeInfo, anti_affinity_index_of, index_of
from kubeherd.scheduler.plugins import inter_pod_affinity as ipa
from kubeherd.scheduler.podinfo import PodInfo
from tests.unit.test_scheduler_builders import make_node, pod_info

HOST = "kubernetes.io/hostname"
ZONE = "topology.kubernetes.io/zone"


def no_ns(namespace: str) -> dict[str, str]:
    return {"kubernetes.io/metadata.name": namespace}


def anti(app: str, key: str = HOST) -> dict[str, Any]:
    return {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": app}}, "topologyKey": key}]}}


def near(app: str, key: str = ZONE) -> dict[str, Any]:
    return {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": app}}, "topologyKey": key}]}}


def web(name: str, node: str = "", **kw: Any) -> PodInfo:
    return pod_info(name, labels={"app": "web"}, node_name=node, affinity=anti("web"), **kw)


def cluster(*pods: PodInfo, zones: dict[str, str] | None = None) -> list[NodeInfo]:
    zones = zones or {"a1": "a", "a2": "a", "b1": "b"}
    nodes = {name: NodeInfo(make_node(name, zone=zone)) for name, zone in zones.items()}
    for p in pods:
        nodes[p.node_name].add_pod(p)
    return list(nodes.values())


def by_name(nodes: list[NodeInfo], name: str) -> NodeInfo:
    return next(n for n in nodes if n.name == name)


def test_replicas_with_hostname_anti_affinity_spread_one_per_node() -> None:
    nodes = cluster(web("web-1", "a1"))
    pod = web("web-2")
    assert ipa.fits(pod, by_name(nodes, "a1"), nodes, no_ns) == ipa.ERR_REASON_ANTI_AFFINITY
    assert ipa.fits(pod, by_name(nodes, "a2"), nodes, no_ns) is None
    assert ipa.fits(pod, by_name(nodes, "b1"), nodes, no_ns) is None


def test_zone_anti_affinity_excludes_the_whole_zone() -> None:
    nodes = cluster(pod_info("web-1", labels={"app": "web"}, node_name="a1"))
    pod = pod_info("web-2", labels={"app": "web"}, affinity=anti("web", ZONE))
    assert ipa.fits(pod, by_name(nodes, "a2"), nodes, no_ns) == ipa.ERR_REASON_ANTI_AFFINITY
    assert ipa.fits(pod, by_name(nodes, "b1"), nodes, no_ns) is None


def test_existing_pods_anti_affinity_keeps_newcomers_away() -> None:
    db = pod_info("db", labels={"app": "db"}, node_name="a1", affinity=anti("web"))
    nodes = cluster(db)
    plain_web = pod_info("web", labels={"app": "web"})
    assert ipa.fits(plain_web, by_name(nodes, "a1"), nodes, no_ns) == ipa.ERR_REASON_EXISTING_ANTI_AFFINITY
    assert ipa.fits(plain_web, by_name(nodes, "a2"), nodes, no_ns) is None
    assert ipa.fits(pod_info("other", labels={"app": "cache"}), by_name(nodes, "a1"), nodes, no_ns) is None


def test_affinity_requires_a_matching_pod_in_the_same_zone() -> None:
    nodes = cluster(pod_info("db", labels={"app": "db"}, node_name="b1"),
                    zones={"a1": "a", "b1": "b", "b2": "b", "nozone": ""})
    cache = pod_info("cache", labels={"app": "cache"}, affinity=near("db"))
    assert ipa.fits(cache, by_name(nodes, "b2"), nodes, no_ns) is None
    assert ipa.fits(cache, by_name(nodes, "a1"), nodes, no_ns) == ipa.ERR_REASON_AFFINITY
    assert ipa.fits(cache, by_name(nodes, "nozone"), nodes, no_ns) == ipa.ERR_REASON_AFFINITY


def test_first_pod_of_a_self_affine_group_may_go_anywhere_the_key_exists() -> None:
    nodes = cluster(zones={"a1": "a", "nozone": ""})
    first = pod_info("etcd-0", labels={"app": "etcd"}, affinity=near("etcd"))
    assert ipa.fits(first, by_name(nodes, "a1"), nodes, no_ns) is None
    assert ipa.fits(first, by_name(nodes, "nozone"), nodes, no_ns) == ipa.ERR_REASON_AFFINITY
    stranger = pod_info("client", labels={"app": "client"}, affinity=near("etcd"))
    assert ipa.fits(stranger, by_name(nodes, "a1"), nodes, no_ns) == ipa.ERR_REASON_AFFINITY


def test_namespaces_and_namespace_selectors() -> None:
    other_ns = pod_info("web-1", namespace="shop", labels={"app": "web"}, node_name="a1")
    nodes = cluster(other_ns)
    same_ns_only = pod_info("web-2", labels={"app": "web"}, affinity=anti("web"))
    assert ipa.fits(same_ns_only, by_name(nodes, "a1"), nodes, no_ns) is None
    all_ns = pod_info("web-2", labels={"app": "web"}, affinity={"podAntiAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [{"labelSelector": {"matchLabels": {"app": "web"}},
                                                            "namespaceSelector": {}, "topologyKey": HOST}]}})
    assert ipa.fits(all_ns, by_name(nodes, "a1"), nodes, no_ns) == ipa.ERR_REASON_ANTI_AFFINITY
    labelled = pod_info("web-2", labels={"app": "web"}, affinity={"podAntiAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [{
            "labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": HOST,
            "namespaceSelector": {"matchLabels": {"team": "shop"}}}]}})
    assert ipa.fits(labelled, by_name(nodes, "a1"), nodes, lambda ns: {"team": ns}) == ipa.ERR_REASON_ANTI_AFFINITY
    assert ipa.fits(labelled, by_name(nodes, "a1"), nodes, lambda ns: {"team": "other"}) is None


def test_preferred_terms_score_domains_both_ways() -> None:
    cache = pod_info("cache", labels={"app": "cache"}, node_name="a1")
    # an existing pod that would rather not share its zone with web pods
    loner = pod_info("loner", labels={"app": "loner"}, node_name="b1", affinity={"podAntiAffinity": {
        "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 30, "podAffinityTerm": {
            "labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": ZONE}}]}})
    nodes = cluster(cache, loner, zones={"a1": "a", "a2": "a", "b1": "b", "c1": "c"})
    pod = pod_info("web", labels={"app": "web"}, affinity={"podAffinity": {
        "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100, "podAffinityTerm": {
            "labelSelector": {"matchLabels": {"app": "cache"}}, "topologyKey": ZONE}}]}})
    by_name = {n.name: n for n in nodes}
    scores_by_pair = ipa.preferred_topology_scores(pod, index_of(nodes), by_name.get,
                                                   [n for n in nodes if n.pods_with_affinity], no_ns)
    assert scores_by_pair == {(ZONE, "a"): 100, (ZONE, "b"): -30}
    scores = [ipa.node_score(scores_by_pair, n) for n in nodes]
    assert scores == [100, 100, -30, 0]
    ipa.normalize_min_max(scores)
    assert scores == [100, 100, 0, 23]


def test_preemption_what_if_removes_a_pods_counts() -> None:
    w1 = web("web-1", "a1")
    nodes = cluster(w1)
    pod = web("web-2")
    s = ipa.compute_state(pod, index_of(nodes), {n.name: n for n in nodes}.get, anti_affinity_index_of(nodes),
                          no_ns)
    node = by_name(nodes, "a1")
    assert ipa.check(pod, s, node) == ipa.ERR_REASON_ANTI_AFFINITY
    plugin = ipa.InterPodAffinity(None)  # type: ignore[arg-type]  # the extensions need no handle
    state = CycleState()
    state.write("PreFilter" + ipa.NAME, s)
    plugin.remove_pod(state, pod, w1, node)
    assert ipa.check(pod, s, node) is None
    plugin.add_pod(state, pod, w1, node)
    assert ipa.check(pod, s, node) == ipa.ERR_REASON_ANTI_AFFINITY
