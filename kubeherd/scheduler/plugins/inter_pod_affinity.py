"""InterPodAffinity: place a pod near (affinity) or away from (anti-affinity) other pods.

Terms select pods by labels in some namespaces and compare topology domains: two nodes are "near"
when they carry the same value of the term's topologyKey. Filter (required terms):
- the pod's affinity: every term must find a matching pod in the node's domain — except for the
  first pod of a group that matches its own terms, which may go anywhere the keys exist;
- the pod's anti-affinity: no term may find a matching pod in the node's domain;
- existing pods' anti-affinity: no pod in the node's domain may have a term matching this pod.
Score (preferred terms, both the pod's and the existing pods', plus existing pods' required
affinity at weight 1): each matching pair adds or subtracts the term's weight to the domain of
the existing pod; a node scores the sum for its domains, scaled min..max to 0..100.

PreFilter counts, per (topologyKey, value), matching pods across all nodes once per cycle, so the
per-node filter is a few dict lookups. Counting goes by label group (pods of one namespace with
one label set), so a workload's thousand replicas are tested once, not a thousand times.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from kubeherd.scheduler.events import ActionType, ClusterEvent, EventRegistration, EventResource
from kubeherd.scheduler.framework import (
    CycleState,
    FilterPlugin,
    PreFilterPlugin,
    PreScorePlugin,
    ScorePlugin,
)
from kubeherd.scheduler.nodeinfo import (
    LabelIndex,
    NodeInfo,
    TermIndex,
    anti_affinity_index_of,
    group_labels,
    index_of,
)
from kubeherd.scheduler.podinfo import AffinityTerm, NamespaceLabels, PodInfo
from kubeherd.scheduler.types import MAX_NODE_SCORE, Code, Status

NAME = "InterPodAffinity"
ERR_REASON_EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules"
ERR_REASON_AFFINITY = "node(s) didn't match pod affinity rules"
ERR_REASON_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules"
HARD_POD_AFFINITY_WEIGHT = 1
_PRE_FILTER_KEY = "PreFilter" + NAME
_PRE_SCORE_KEY = "PreScore" + NAME
_SKIP = Status(Code.SKIP)
_REJECT_AFFINITY = Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ERR_REASON_AFFINITY, plugin=NAME)
_REJECT_ANTI = Status(Code.UNSCHEDULABLE, ERR_REASON_ANTI_AFFINITY, plugin=NAME)
_REJECT_EXISTING = Status(Code.UNSCHEDULABLE, ERR_REASON_EXISTING_ANTI_AFFINITY, plugin=NAME)

TopologyCounts = dict[tuple[str, str], int]
NodeLookup = Callable[[str], NodeInfo | None]


class AffinityState:
    """Counts per topology pair, computed in PreFilter and read by Filter."""

    __slots__ = ("_existing_keys", "affinity", "anti_affinity", "existing_anti_affinity", "ns_labels")

    def __init__(self, ns_labels: NamespaceLabels) -> None:
        self.ns_labels = ns_labels
        self.existing_anti_affinity: TopologyCounts = {}
        self.affinity: TopologyCounts = {}
        self.anti_affinity: TopologyCounts = {}
        self._existing_keys: tuple[str, ...] | None = None

    def existing_keys(self) -> tuple[str, ...]:
        """The topology keys existing anti-affinity uses (usually one: each node is checked per key)."""
        if self._existing_keys is None:
            self._existing_keys = tuple({key for key, _ in self.existing_anti_affinity})
        return self._existing_keys

    def changed(self) -> None:
        self._existing_keys = None

    def clone(self) -> AffinityState:
        other = AffinityState(self.ns_labels)
        other.existing_anti_affinity = dict(self.existing_anti_affinity)
        other.affinity = dict(self.affinity)
        other.anti_affinity = dict(self.anti_affinity)
        return other


def _bump(counts: TopologyCounts, key: str, labels: Mapping[str, str], delta: int) -> None:
    value = labels.get(key)
    if value is not None:
        pair = (key, value)
        left = counts.get(pair, 0) + delta
        if left:
            counts[pair] = left
        else:
            counts.pop(pair, None)


def existing_anti_affinity_counts(pod: PodInfo, terms: TermIndex, get_node: NodeLookup,
                                  ns_labels: NamespaceLabels) -> TopologyCounts:
    """Domains where some existing pod's required anti-affinity term matches `pod` (one per such pod)."""
    counts: TopologyCounts = {}
    for term, by_node in terms.values():
        if not term.matches(pod.namespace, pod.labels, ns_labels):
            continue
        for node_name, n in by_node.items():
            node = get_node(node_name)
            if node is not None:
                _bump(counts, term.topology_key, node.labels, n)
    return counts


def incoming_counts(pod: PodInfo, index: LabelIndex, get_node: NodeLookup,
                    ns_labels: NamespaceLabels) -> tuple[TopologyCounts, TopologyCounts]:
    """Per domain: pods matching all of `pod`'s affinity terms, and pods matching its anti-affinity terms."""
    affinity: TopologyCounts = {}
    anti: TopologyCounts = {}
    aff_terms = pod.required_affinity_terms
    anti_terms = pod.required_anti_affinity_terms
    if not aff_terms and not anti_terms:
        return affinity, anti
    for ns, groups in index.items():
        for by_node in groups.values():
            labels = group_labels(by_node)
            aff_hit = bool(aff_terms) and all(t.matches(ns, labels, ns_labels) for t in aff_terms)
            anti_hits = [t for t in anti_terms if t.matches(ns, labels, ns_labels)]
            if not aff_hit and not anti_hits:
                continue
            for node_name, group in by_node.items():
                node = get_node(node_name)
                if node is None:
                    continue
                if aff_hit:
                    for term in aff_terms:
                        _bump(affinity, term.topology_key, node.labels, group.total)
                for term in anti_hits:
                    _bump(anti, term.topology_key, node.labels, group.total)
    return affinity, anti


def satisfies_pod_affinity(pod: PodInfo, s: AffinityState, node: NodeInfo) -> bool:
    pods_exist = True
    for term in pod.required_affinity_terms:
        value = node.labels.get(term.topology_key)
        if value is None:
            return False  # every topology key must exist on the node
        if s.affinity.get((term.topology_key, value), 0) <= 0:
            pods_exist = False
    if not pods_exist:
        # The first pod of a group with affinity to itself: no pod anywhere matches yet.
        return not s.affinity and pod.matches_all_affinity_terms(pod.required_affinity_terms, s.ns_labels)
    return True


def satisfies_pod_anti_affinity(pod: PodInfo, s: AffinityState, node: NodeInfo) -> bool:
    if not s.anti_affinity:
        return True
    for term in pod.required_anti_affinity_terms:
        value = node.labels.get(term.topology_key)
        if value is not None and s.anti_affinity.get((term.topology_key, value), 0) > 0:
            return False
    return True


def satisfies_existing_pods_anti_affinity(s: AffinityState, node: NodeInfo) -> bool:
    if not s.existing_anti_affinity:
        return True
    counts = s.existing_anti_affinity
    labels = node.labels
    for key in s.existing_keys():
        value = labels.get(key)
        if value is not None and (key, value) in counts:
            return False
    return True


def compute_state(pod: PodInfo, index: LabelIndex, get_node: NodeLookup, terms: TermIndex,
                  ns_labels: NamespaceLabels) -> AffinityState:
    s = AffinityState(ns_labels)
    s.existing_anti_affinity = existing_anti_affinity_counts(pod, terms, get_node, ns_labels)
    s.affinity, s.anti_affinity = incoming_counts(pod, index, get_node, ns_labels)
    return s


def fits(pod: PodInfo, node: NodeInfo, all_nodes: list[NodeInfo], ns_labels: NamespaceLabels) -> str | None:
    """The rejection reason for `node`, or None; `all_nodes` is the cluster the pod joins."""
    by_name = {n.name: n for n in all_nodes}
    s = compute_state(pod, index_of(all_nodes), by_name.get, anti_affinity_index_of(all_nodes), ns_labels)
    return check(pod, s, node)


def check(pod: PodInfo, s: AffinityState, node: NodeInfo) -> str | None:
    if not satisfies_pod_affinity(pod, s, node):
        return ERR_REASON_AFFINITY
    if not satisfies_pod_anti_affinity(pod, s, node):
        return ERR_REASON_ANTI_AFFINITY
    if not satisfies_existing_pods_anti_affinity(s, node):
        return ERR_REASON_EXISTING_ANTI_AFFINITY
    return None


# ------------------------------------------------------------------------------ scoring
def _term_scores(terms: Any, sign: int, ns: str, labels: Mapping[str, str], ns_labels: NamespaceLabels,
                 node_labels: Mapping[str, str], out: dict[tuple[str, str], int], multiplier: int = 1) -> None:
    for weighted in terms:
        term: AffinityTerm = weighted.term
        if weighted.weight and term.matches(ns, labels, ns_labels):
            value = node_labels.get(term.topology_key)
            if value is not None:
                pair = (term.topology_key, value)
                out[pair] = out.get(pair, 0) + sign * weighted.weight * multiplier


def preferred_topology_scores(pod: PodInfo, index: LabelIndex | None, get_node: NodeLookup,
                              nodes_with_affinity: list[NodeInfo], ns_labels: NamespaceLabels,
                              hard_weight: int = HARD_POD_AFFINITY_WEIGHT) -> dict[tuple[str, str], int]:
    """Score per topology pair from preferred terms (both ways) and existing pods' required affinity.

    `index` (every pod, by label set) is needed only when the pod has preferred terms of its own.
    """
    scores: dict[tuple[str, str], int] = {}
    if index is not None and (pod.preferred_affinity_terms or pod.preferred_anti_affinity_terms):
        for ns, groups in index.items():
            for by_node in groups.values():
                labels = group_labels(by_node)
                for node_name, group in by_node.items():
                    node = get_node(node_name)
                    if node is None:
                        continue
                    _term_scores(pod.preferred_affinity_terms, 1, ns, labels, ns_labels, node.labels, scores,
                                 group.total)
                    _term_scores(pod.preferred_anti_affinity_terms, -1, ns, labels, ns_labels, node.labels,
                                 scores, group.total)
    for node in nodes_with_affinity:
        for existing in node.pods_with_affinity.values():
            if hard_weight > 0:
                for term in existing.required_affinity_terms:
                    if term.matches(pod.namespace, pod.labels, ns_labels):
                        value = node.labels.get(term.topology_key)
                        if value is not None:
                            pair = (term.topology_key, value)
                            scores[pair] = scores.get(pair, 0) + hard_weight
            _term_scores(existing.preferred_affinity_terms, 1, pod.namespace, pod.labels, ns_labels, node.labels,
                         scores)
            _term_scores(existing.preferred_anti_affinity_terms, -1, pod.namespace, pod.labels, ns_labels,
                         node.labels, scores)
    return {pair: s for pair, s in scores.items() if s}


def node_score(topology_scores: dict[tuple[str, str], int], node: NodeInfo) -> int:
    labels = node.labels
    return sum(s for (key, value), s in topology_scores.items() if labels.get(key) == value)


def normalize_min_max(scores: list[int]) -> None:
    if not scores:
        return
    low, high = min(scores), max(scores)
    diff = high - low
    for i, s in enumerate(scores):
        scores[i] = int(MAX_NODE_SCORE * ((s - low) / diff)) if diff > 0 else 0


class InterPodAffinity(PreFilterPlugin, FilterPlugin, PreScorePlugin, ScorePlugin):
    name = NAME
    has_extensions = True
    normalizes = True

    def _ns_labels(self, namespace: str) -> Mapping[str, str] | None:
        return self.handle.listers.namespace_labels(namespace)

    def pre_filter(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        if pod.affinity_parse_error:
            return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, f"parsing pod: {pod.affinity_parse_error}")
        snapshot = self.handle.snapshot
        terms = snapshot.anti_affinity_index
        if not terms and not pod.required_affinity_terms and not pod.required_anti_affinity_terms:
            return _SKIP
        s = compute_state(pod, snapshot.label_index, snapshot.get, terms, self._ns_labels)
        if not s.existing_anti_affinity and not pod.required_affinity_terms and not pod.required_anti_affinity_terms:
            return _SKIP
        state.write(_PRE_FILTER_KEY, s)
        return None

    def add_pod(self, state: CycleState, pod: PodInfo, added: PodInfo, node: NodeInfo) -> None:
        self._update(state, pod, added, node, 1)

    def remove_pod(self, state: CycleState, pod: PodInfo, removed: PodInfo, node: NodeInfo) -> None:
        self._update(state, pod, removed, node, -1)

    def _update(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo, delta: int) -> None:
        s: AffinityState | None = state.read(_PRE_FILTER_KEY)
        if s is None:
            return
        s.changed()
        for term in other.required_anti_affinity_terms:
            if term.matches(pod.namespace, pod.labels, s.ns_labels):
                _bump(s.existing_anti_affinity, term.topology_key, node.labels, delta)
        if pod.required_affinity_terms and other.matches_all_affinity_terms(pod.required_affinity_terms, s.ns_labels):
            for term in pod.required_affinity_terms:
                _bump(s.affinity, term.topology_key, node.labels, delta)
        for term in pod.required_anti_affinity_terms:
            if term.matches(other.namespace, other.labels, s.ns_labels):
                _bump(s.anti_affinity, term.topology_key, node.labels, delta)

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        s: AffinityState | None = state.read(_PRE_FILTER_KEY)
        if s is None:
            return None
        if not satisfies_pod_affinity(pod, s, node):
            return _REJECT_AFFINITY
        if not satisfies_pod_anti_affinity(pod, s, node):
            return _REJECT_ANTI
        if not satisfies_existing_pods_anti_affinity(s, node):
            return _REJECT_EXISTING
        return None

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        snapshot = self.handle.snapshot
        has_constraints = bool(pod.preferred_affinity_terms or pod.preferred_anti_affinity_terms)
        with_affinity = snapshot.nodes_with_affinity_pods()
        if not has_constraints and not with_affinity:
            return _SKIP
        scores = preferred_topology_scores(pod, snapshot.label_index if has_constraints else None, snapshot.get,
                                           with_affinity, self._ns_labels)
        if not scores:
            return _SKIP
        state.write(_PRE_SCORE_KEY, scores)
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return node_score(state.read(_PRE_SCORE_KEY) or {}, node)

    def normalize_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], scores: list[int]) -> None:
        normalize_min_max(scores)

    def _assigned_pod_change_matters(self, pod: PodInfo, old: Any, new: Any) -> bool:
        ns_labels = self._ns_labels
        for changed in (old, new):
            if not isinstance(changed, PodInfo):
                continue
            for term in pod.required_affinity_terms + pod.required_anti_affinity_terms:
                if term.matches(changed.namespace, changed.labels, ns_labels):
                    return True
            for term in changed.required_anti_affinity_terms:
                if term.matches(pod.namespace, pod.labels, ns_labels):
                    return True
        return False

    def events_to_register(self) -> list[EventRegistration]:
        return [
            EventRegistration(ClusterEvent(EventResource.ASSIGNED_POD, ActionType.ADD | ActionType.UPDATE_POD_LABEL
                                           | ActionType.DELETE), self._assigned_pod_change_matters),
            EventRegistration(ClusterEvent(EventResource.NODE, ActionType.ADD | ActionType.UPDATE_NODE_LABEL)),
            EventRegistration(ClusterEvent(EventResource.POD, ActionType.UPDATE_POD_LABEL)),
        ]
