"""PodTopologySpread: keep matching pods evenly spread over topology domains (zones, nodes, ...).

For each constraint, a domain's count is the number of pods in the pod's namespace that match the
constraint's selector (terminating pods excluded) on the eligible nodes of that domain; nodes are
eligible if they carry every constraint's topologyKey and pass the inclusion policies
(nodeAffinityPolicy: Honor by default — the pod's nodeSelector/required affinity must match;
nodeTaintsPolicy: Ignore by default — Honor skips nodes whose taints the pod does not tolerate).

Filter (whenUnsatisfiable: DoNotSchedule): placing the pod in the node's domain must keep
count + 1 − (the smallest count of any domain) ≤ maxSkew; with fewer domains than minDomains the
smallest count is taken as 0. A node without the topologyKey is rejected outright.

Score (ScheduleAnyway, or upstream's system defaults for pods without constraints — hostname
maxSkew 3 and zone maxSkew 5 over the pods of the same Service/ReplicaSet/StatefulSet/RC): a node
scores count × log(domains + 2) + (maxSkew − 1) per constraint; fewer matching pods is better,
normalized so the emptiest domain scores 100.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kubeherd.api.selectors import (
    EQUALS,
    IN,
    LabelSelector,
    SelectorError,
    label_selector_from_dict,
    new_requirement,
)
from kubeherd.scheduler.events import ActionType, ClusterEvent, EventRegistration, EventResource
from kubeherd.scheduler.framework import (
    CycleState,
    FilterPlugin,
    PreFilterPlugin,
    PreScorePlugin,
    ScorePlugin,
)
from kubeherd.scheduler.listers import Listers
from kubeherd.scheduler.nodeinfo import LabelIndex, NodeInfo, group_labels, index_of
from kubeherd.scheduler.plugins.node_affinity import matches_required
from kubeherd.scheduler.podinfo import PodInfo
from kubeherd.scheduler.types import (
    LABEL_HOSTNAME,
    LABEL_ZONE,
    MAX_NODE_SCORE,
    NO_EXECUTE,
    NO_SCHEDULE,
    Code,
    Obj,
    Status,
    find_untolerated_taint,
)

NAME = "PodTopologySpread"
ERR_REASON_CONSTRAINTS_NOT_MATCH = "node(s) didn't match pod topology spread constraints"
ERR_REASON_NODE_LABEL_NOT_MATCH = ERR_REASON_CONSTRAINTS_NOT_MATCH + " (missing required label)"
DO_NOT_SCHEDULE = "DoNotSchedule"
SCHEDULE_ANYWAY = "ScheduleAnyway"
HONOR = "Honor"
IGNORE = "Ignore"
# Upstream's system default constraints (defaultingType: System).
SYSTEM_DEFAULT_CONSTRAINTS: list[Obj] = [
    {"maxSkew": 3, "topologyKey": LABEL_HOSTNAME, "whenUnsatisfiable": SCHEDULE_ANYWAY},
    {"maxSkew": 5, "topologyKey": LABEL_ZONE, "whenUnsatisfiable": SCHEDULE_ANYWAY},
]
_PRE_FILTER_KEY = "PreFilter" + NAME
_PRE_SCORE_KEY = "PreScore" + NAME
_SKIP = Status(Code.SKIP)
_REJECT_LABEL = Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ERR_REASON_NODE_LABEL_NOT_MATCH, plugin=NAME)
_REJECT_SKEW = Status(Code.UNSCHEDULABLE, ERR_REASON_CONSTRAINTS_NOT_MATCH, plugin=NAME)
NodeLookup = Callable[[str], NodeInfo | None]


@dataclass(slots=True)
class Constraint:
    max_skew: int
    topology_key: str
    selector: LabelSelector
    min_domains: int = 1
    node_affinity_policy: str = HONOR
    node_taints_policy: str = IGNORE


def parse_constraints(items: list[Obj], labels: Mapping[str, str], action: str) -> list[Constraint]:
    """The pod's constraints with `whenUnsatisfiable == action`, matchLabelKeys merged into the selector."""
    out = []
    for c in items:
        if c.get("whenUnsatisfiable", DO_NOT_SCHEDULE) != action:
            continue
        selector = label_selector_from_dict(c.get("labelSelector"))
        extra = [new_requirement(str(k), EQUALS, [labels[k]]) for k in c.get("matchLabelKeys") or [] if k in labels]
        if extra:
            selector = selector.add(*extra) if not selector.matches_nothing else LabelSelector(extra)
        out.append(Constraint(int(c.get("maxSkew") or 1), str(c.get("topologyKey") or ""), selector,
                              int(c.get("minDomains") or 1), str(c.get("nodeAffinityPolicy") or HONOR),
                              str(c.get("nodeTaintsPolicy") or IGNORE)))
    return out


def default_selector(pod: PodInfo, listers: Listers) -> LabelSelector:
    """The selector of the Services, and the ReplicaSet/StatefulSet/RC controller, the pod belongs to."""
    label_set: dict[str, str] = {}
    for svc in listers.services(pod.namespace):
        selector = (svc.get("spec") or {}).get("selector")
        if selector is None:
            continue
        if all(pod.labels.get(k) == v for k, v in selector.items()):
            label_set.update(selector)
    reqs = [new_requirement(k, IN, [v]) for k, v in label_set.items()]
    selector = LabelSelector(reqs)
    owner = next((r for r in (pod.pod.get("metadata") or {}).get("ownerReferences") or [] if r.get("controller")),
                 None)
    if owner is None:
        return selector
    kind, api_version, name = owner.get("kind"), owner.get("apiVersion"), owner.get("name", "")
    if kind == "ReplicationController" and api_version == "v1":
        rc = listers.replication_controller(pod.namespace, name)
        if rc is not None:
            label_set.update((rc.get("spec") or {}).get("selector") or {})
            selector = LabelSelector(new_requirement(k, IN, [v]) for k, v in label_set.items())
    elif kind in ("ReplicaSet", "StatefulSet") and api_version == "apps/v1":
        owner_obj = listers.replica_set(pod.namespace, name) if kind == "ReplicaSet" \
            else listers.stateful_set(pod.namespace, name)
        if owner_obj is not None:
            try:
                other = label_selector_from_dict((owner_obj.get("spec") or {}).get("selector"))
            except SelectorError:
                return selector
            if not other.matches_nothing:
                selector = selector.add(*other.requirements)
    return selector


def build_default_constraints(pod: PodInfo, listers: Listers, action: str) -> list[Constraint]:
    constraints = parse_constraints(SYSTEM_DEFAULT_CONSTRAINTS, pod.labels, action)
    if not constraints:
        return []
    selector = default_selector(pod, listers)
    if selector.empty:
        return []
    for c in constraints:
        c.selector = selector
    return constraints


def node_included(c: Constraint, pod: PodInfo, node: NodeInfo) -> bool:
    if c.node_affinity_policy == HONOR and not matches_required(pod, node.labels, node.name):
        return False
    return not (c.node_taints_policy == HONOR and
                find_untolerated_taint(node.taints, pod.tolerations, (NO_SCHEDULE, NO_EXECUTE)) is not None)


def has_all_keys(labels: Mapping[str, str], constraints: list[Constraint]) -> bool:
    return all(c.topology_key in labels for c in constraints)


class _Matcher:
    """Does a label set match a selector? Memoised per cycle, since label sets repeat across nodes."""

    __slots__ = ("memo", "namespace", "selector")

    def __init__(self, selector: LabelSelector, namespace: str) -> None:
        self.selector = selector
        self.namespace = namespace
        self.memo: dict[Any, bool] = {}

    def matches_key(self, labels_key: Any, labels: Mapping[str, str]) -> bool:
        hit = self.memo.get(labels_key)
        if hit is None:
            hit = self.memo[labels_key] = self.selector.matches(labels)
        return hit


class SpreadState:
    """Per constraint: matching pods per domain value, and the smallest count (the critical path)."""

    __slots__ = ("constraints", "counts", "matchers", "mins", "self_match")

    def __init__(self, constraints: list[Constraint], namespace: str, pod_labels: Mapping[str, str]) -> None:
        self.constraints = constraints
        self.matchers = [_Matcher(c.selector, namespace) for c in constraints]
        self.counts: list[dict[str, int]] = [{} for _ in constraints]
        self.self_match = [1 if c.selector.matches(pod_labels) else 0 for c in constraints]
        self.mins: list[int | None] = [None] * len(constraints)

    def min_match(self, i: int) -> int:
        m = self.mins[i]
        if m is None:
            counts = self.counts[i]
            m = 0 if len(counts) < self.constraints[i].min_domains or not counts else min(counts.values())
            self.mins[i] = m
        return m

    def clone(self) -> SpreadState:
        other = SpreadState.__new__(SpreadState)
        other.constraints = self.constraints
        other.matchers = self.matchers
        other.counts = [dict(c) for c in self.counts]
        other.self_match = self.self_match
        other.mins = list(self.mins)
        return other


def compute_filter_state(pod: PodInfo, constraints: list[Constraint], nodes: list[NodeInfo],
                         index: LabelIndex | None = None, get_node: NodeLookup | None = None) -> SpreadState:
    """Counts per domain over the eligible nodes; every eligible domain is present, empty ones at 0."""
    s = SpreadState(constraints, pod.namespace, pod.labels)
    if index is None or get_node is None:
        index, get_node = index_of(nodes), {n.name: n for n in nodes}.get
    checks = _inclusion_checks(pod, constraints)
    eligible: list[set[str]] = [set() for _ in constraints]
    for node in nodes:
        labels = node.labels
        if not has_all_keys(labels, constraints):
            continue
        for i, c in enumerate(constraints):
            if checks[i] and not node_included(c, pod, node):
                continue
            s.counts[i].setdefault(labels[c.topology_key], 0)
            eligible[i].add(node.name)
    for i, c in enumerate(constraints):
        matcher, counts = s.matchers[i], s.counts[i]
        for labels_key, by_node in index.get(pod.namespace, {}).items():
            if not matcher.matches_key(labels_key, group_labels(by_node)):
                continue
            for name, group in by_node.items():
                if group.live and name in eligible[i]:
                    holder = get_node(name)
                    if holder is not None:
                        counts[holder.labels[c.topology_key]] += group.live
    return s


def _inclusion_checks(pod: PodInfo, constraints: list[Constraint]) -> list[bool]:
    """Per constraint: whether node inclusion policies can exclude any node for this pod."""
    has_required = bool(pod.node_selector) or pod.required_node_affinity is not None
    return [(c.node_affinity_policy == HONOR and has_required) or c.node_taints_policy == HONOR for c in constraints]


def check(pod: PodInfo, s: SpreadState, node: NodeInfo) -> Status | None:
    labels = node.labels
    for i, c in enumerate(s.constraints):
        value = labels.get(c.topology_key)
        if value is None:
            return _REJECT_LABEL
        skew = s.counts[i].get(value, 0) + s.self_match[i] - s.min_match(i)
        if skew > c.max_skew:
            return _REJECT_SKEW
    return None


def fits(pod: PodInfo, node: NodeInfo, all_nodes: list[NodeInfo]) -> str | None:
    """The rejection reason for `node` under the pod's DoNotSchedule constraints, or None."""
    constraints = parse_constraints(pod.spread_constraints, pod.labels, DO_NOT_SCHEDULE)
    if not constraints:
        return None
    status = check(pod, compute_filter_state(pod, constraints, all_nodes), node)
    return None if status is None else status.reasons[0]


# ------------------------------------------------------------------------------ scoring
class ScoreState:
    __slots__ = ("constraints", "counts", "ignored", "matchers", "weights")

    def __init__(self) -> None:
        self.constraints: list[Constraint] = []
        self.ignored: set[str] = set()
        # per constraint: matching pods per domain value; for hostname constraints, per node name
        self.counts: list[dict[str, int]] = []
        self.weights: list[float] = []
        self.matchers: list[_Matcher] = []


def compute_score_state(pod: PodInfo, constraints: list[Constraint], filtered: list[NodeInfo],
                        all_nodes: list[NodeInfo], require_all_topologies: bool, index: LabelIndex | None = None,
                        get_node: NodeLookup | None = None) -> ScoreState:
    s = ScoreState()
    s.constraints = constraints
    s.counts = [{} for _ in constraints]
    shared: dict[int, _Matcher] = {}  # the system defaults share one selector: count each node once
    for c in constraints:
        matcher = shared.get(id(c.selector))
        if matcher is None:
            matcher = shared[id(c.selector)] = _Matcher(c.selector, pod.namespace)
        s.matchers.append(matcher)
    sizes = [0] * len(constraints)
    for node in filtered:
        if require_all_topologies and not has_all_keys(node.labels, constraints):
            s.ignored.add(node.name)
            continue
        for i, c in enumerate(constraints):
            if c.topology_key == LABEL_HOSTNAME:
                continue  # per-node counts come in Score
            value = node.labels.get(c.topology_key, "")
            if value not in s.counts[i]:
                s.counts[i][value] = 0
                sizes[i] += 1
    for i, c in enumerate(constraints):
        size = len(filtered) - len(s.ignored) if c.topology_key == LABEL_HOSTNAME else sizes[i]
        s.weights.append(math.log(size + 2))
    if index is None or get_node is None:
        index, get_node = index_of(all_nodes), {n.name: n for n in all_nodes}.get
    for i, c in enumerate(constraints):
        if c.topology_key == LABEL_HOSTNAME:
            s.counts[i] = _per_node_counts(s.matchers[i], index.get(pod.namespace, {}))
    domains = [i for i, c in enumerate(constraints) if c.topology_key != LABEL_HOSTNAME]
    if domains:
        checks = _inclusion_checks(pod, constraints)
        groups = index.get(pod.namespace, {})
        for i in domains:
            c, matcher, counts = constraints[i], s.matchers[i], s.counts[i]
            for labels_key, by_node in groups.items():
                if not matcher.matches_key(labels_key, group_labels(by_node)):
                    continue
                for name, group in by_node.items():
                    holder = get_node(name) if group.live else None
                    if holder is None:
                        continue
                    labels = holder.labels
                    if require_all_topologies and not has_all_keys(labels, constraints):
                        continue
                    value = labels.get(c.topology_key, "")
                    if value not in counts or (checks[i] and not node_included(c, pod, holder)):
                        continue
                    counts[value] += group.live
    return s


def _per_node_counts(matcher: _Matcher, groups: dict[Any, dict[str, Any]]) -> dict[str, int]:
    """Matching (non-terminating) pods per node, from the label index."""
    counts: dict[str, int] = {}
    for labels_key, by_node in groups.items():
        if matcher.matches_key(labels_key, group_labels(by_node)):
            for name, group in by_node.items():
                if group.live:
                    counts[name] = counts.get(name, 0) + group.live
    return counts


def score_node(s: ScoreState, node: NodeInfo) -> int:
    if node.name in s.ignored:
        return 0
    total = 0.0
    labels = node.labels
    for i, c in enumerate(s.constraints):
        value = labels.get(c.topology_key)
        if value is None:
            continue
        cnt = s.counts[i].get(node.name if c.topology_key == LABEL_HOSTNAME else value, 0)
        total += cnt * s.weights[i] + (c.max_skew - 1)
    return round(total)


def normalize_spread_scores(s: ScoreState, nodes: list[NodeInfo], scores: list[int]) -> None:
    low, high = None, 0
    for node, score in zip(nodes, scores, strict=True):
        if node.name in s.ignored:
            continue
        low = score if low is None or score < low else low
        high = max(high, score)
    for i, node in enumerate(nodes):
        if node.name in s.ignored:
            scores[i] = 0
        elif high == 0:
            scores[i] = MAX_NODE_SCORE
        else:
            scores[i] = MAX_NODE_SCORE * (high + (low or 0) - scores[i]) // high


class PodTopologySpread(PreFilterPlugin, FilterPlugin, PreScorePlugin, ScorePlugin):
    name = NAME
    has_extensions = True
    normalizes = True

    def _constraints(self, pod: PodInfo, action: str) -> list[Constraint]:
        if pod.spread_constraints:
            return parse_constraints(pod.spread_constraints, pod.labels, action)
        return build_default_constraints(pod, self.handle.listers, action)

    def pre_filter(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        try:
            constraints = self._constraints(pod, DO_NOT_SCHEDULE)
        except SelectorError as exc:
            return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, f"obtaining pod's hard topology spread constraints: {exc}")
        if not constraints:
            return _SKIP
        snapshot = self.handle.snapshot
        state.write(_PRE_FILTER_KEY, compute_filter_state(pod, constraints, nodes, snapshot.label_index, snapshot.get))
        return None

    def add_pod(self, state: CycleState, pod: PodInfo, added: PodInfo, node: NodeInfo) -> None:
        self._update(state, pod, added, node, 1)

    def remove_pod(self, state: CycleState, pod: PodInfo, removed: PodInfo, node: NodeInfo) -> None:
        self._update(state, pod, removed, node, -1)

    def _update(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo, delta: int) -> None:
        s: SpreadState | None = state.read(_PRE_FILTER_KEY)
        if s is None or other.namespace != pod.namespace or other.terminating:
            return
        if not has_all_keys(node.labels, s.constraints):
            return
        for i, c in enumerate(s.constraints):
            if not c.selector.matches(other.labels) or not node_included(c, pod, node):
                continue
            value = node.labels[c.topology_key]
            s.counts[i][value] = s.counts[i].get(value, 0) + delta
            s.mins[i] = None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        s: SpreadState | None = state.read(_PRE_FILTER_KEY)
        if s is None:
            return None
        return check(pod, s, node)

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        snapshot = self.handle.snapshot
        if not snapshot.num_nodes():
            return _SKIP
        try:
            constraints = self._constraints(pod, SCHEDULE_ANYWAY)
        except SelectorError as exc:
            return Status(Code.ERROR, f"obtaining pod's soft topology spread constraints: {exc}")
        if not constraints:
            return _SKIP
        # Nodes missing a key are ignored only for the pod's own constraints, so that nodes
        # without a zone label still get hostname spreading under the system defaults.
        require_all = bool(pod.spread_constraints)
        state.write(_PRE_SCORE_KEY, compute_score_state(pod, constraints, nodes, snapshot.node_infos(), require_all,
                                                        snapshot.label_index, snapshot.get))
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return score_node(state.read(_PRE_SCORE_KEY), node)

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        s: ScoreState = state.read(_PRE_SCORE_KEY)
        return [score_node(s, n) for n in nodes]

    def normalize_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], scores: list[int]) -> None:
        normalize_spread_scores(state.read(_PRE_SCORE_KEY), nodes, scores)

    def events_to_register(self) -> list[EventRegistration]:
        same_namespace: Callable[[PodInfo, Any, Any], bool] = lambda pod, old, new: any(  # noqa: E731
            isinstance(p, PodInfo) and p.namespace == pod.namespace for p in (old, new))
        return [
            EventRegistration(ClusterEvent(EventResource.ASSIGNED_POD, ActionType.ADD | ActionType.UPDATE_POD_LABEL
                                           | ActionType.DELETE), same_namespace),
            EventRegistration(ClusterEvent(EventResource.NODE, ActionType.ADD | ActionType.DELETE
                                           | ActionType.UPDATE_NODE_LABEL | ActionType.UPDATE_NODE_TAINT)),
            EventRegistration(ClusterEvent(EventResource.POD, ActionType.UPDATE_POD_LABEL)),
        ]
