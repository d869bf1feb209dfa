"""NodeAffinity: `nodeSelector` and required node affinity filter; preferred node affinity scores.

Filter: every `nodeSelector` label must match, and one of the required `nodeSelectorTerms` must
(expressions In, NotIn, Exists, DoesNotExist, Gt, Lt on labels; `metadata.name` on fields).
Score: the sum of the weights of the preferred terms the node matches, scaled so the best node
scores 100.
"""

from __future__ import annotations

from typing import Any

from kubeherd.scheduler.events import ActionType, ClusterEvent, EventRegistration, EventResource
from kubeherd.scheduler.framework import (
    CycleState,
    FilterPlugin,
    PreFilterPlugin,
    PreScorePlugin,
    ScorePlugin,
    default_normalize_score,
)
from kubeherd.scheduler.nodeinfo import NodeInfo
from kubeherd.scheduler.podinfo import PodInfo
from kubeherd.scheduler.types import Code, Status

NAME = "NodeAffinity"
ERR_REASON_POD = "node(s) didn't match Pod's node affinity/selector"
_REJECT = Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ERR_REASON_POD, plugin=NAME)
_SKIP = Status(Code.SKIP)


def matches_required(pod: PodInfo, labels: dict[str, str], name: str) -> bool:
    """nodeSelector and required node affinity together (upstream's RequiredNodeAffinity.Match)."""
    for key, value in pod.node_selector.items():
        if labels.get(key) != value:
            return False
    if pod.required_node_affinity is not None:
        return pod.required_node_affinity.matches(labels, name)
    return True


def fits(pod: PodInfo, node: NodeInfo) -> bool:
    return matches_required(pod, node.labels, node.name)


def preferred_score(pod: PodInfo, node: NodeInfo) -> int:
    return sum(weight for weight, term in pod.preferred_node_affinity if term.matches(node.labels, node.name))


def _node_now_matches(pod: PodInfo, old: Any, new: Any) -> bool:
    if new is None:
        return False
    meta = new.get("metadata") or {}
    if not matches_required(pod, meta.get("labels") or {}, meta.get("name", "")):
        return False
    if old is None:
        return True
    old_meta = old.get("metadata") or {}
    return not matches_required(pod, old_meta.get("labels") or {}, old_meta.get("name", ""))


class NodeAffinity(PreFilterPlugin, FilterPlugin, PreScorePlugin, ScorePlugin):
    name = NAME
    normalizes = True

    def pre_filter(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        if not pod.node_selector and pod.required_node_affinity is None:
            return _SKIP
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        return None if fits(pod, node) else _REJECT

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        return None if pod.preferred_node_affinity else _SKIP

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return preferred_score(pod, node)

    def normalize_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], scores: list[int]) -> None:
        default_normalize_score(scores)

    def events_to_register(self) -> list[EventRegistration]:
        return [
            EventRegistration(ClusterEvent(EventResource.NODE, ActionType.ADD | ActionType.UPDATE_NODE_LABEL),
                              _node_now_matches),
            EventRegistration(ClusterEvent(EventResource.POD, ActionType.UPDATE_OTHER)),
        ]
