"""TaintToleration: a node's NoSchedule/NoExecute taints must be tolerated; PreferNoSchedule scores.

Filter: the first taint with effect NoSchedule or NoExecute that none of the pod's tolerations
tolerates rejects the node: `node(s) had untolerated taint {key: value}`.
Score: the number of PreferNoSchedule taints the pod does not tolerate (counting only its
tolerations with effect PreferNoSchedule or no effect), reversed so that fewer is better.
"""

from __future__ import annotations

from typing import Any

from kubeherd.scheduler.events import ActionType, ClusterEvent, EventRegistration, EventResource
from kubeherd.scheduler.framework import (
    CycleState,
    FilterPlugin,
    PreScorePlugin,
    ScorePlugin,
    default_normalize_score,
)
from kubeherd.scheduler.nodeinfo import NodeInfo
from kubeherd.scheduler.podinfo import PodInfo
from kubeherd.scheduler.types import (
    NO_EXECUTE,
    NO_SCHEDULE,
    PREFER_NO_SCHEDULE,
    Code,
    Status,
    Taint,
    Toleration,
    find_untolerated_taint,
    tolerates,
)

NAME = "TaintToleration"
_STATE_KEY = "PreScore" + NAME


def untolerated_taint(pod: PodInfo, node: NodeInfo) -> Taint | None:
    return find_untolerated_taint(node.taints, pod.tolerations, (NO_SCHEDULE, NO_EXECUTE))


def fits(pod: PodInfo, node: NodeInfo) -> str | None:
    """None if the node's hard taints are all tolerated, else the rejection reason."""
    taint = untolerated_taint(pod, node)
    if taint is None:
        return None
    return f"node(s) had untolerated taint {{{taint.key}: {taint.value}}}"


def prefer_no_schedule_tolerations(pod: PodInfo) -> tuple[Toleration, ...]:
    return tuple(t for t in pod.tolerations if t.effect in ("", PREFER_NO_SCHEDULE))


def count_intolerable_prefer_no_schedule(node: NodeInfo, tolerations: tuple[Toleration, ...]) -> int:
    return sum(1 for t in node.taints if t.effect == PREFER_NO_SCHEDULE and not tolerates(tolerations, t))


def _taints_now_tolerated(pod: PodInfo, old: Any, new: Any) -> bool:
    if new is None:
        return False
    taints = [Taint.parse(t) for t in (new.get("spec") or {}).get("taints") or []]
    if find_untolerated_taint(taints, pod.tolerations) is not None:
        return False
    if old is None:
        return True
    old_taints = [Taint.parse(t) for t in (old.get("spec") or {}).get("taints") or []]
    return find_untolerated_taint(old_taints, pod.tolerations) is not None


class TaintToleration(FilterPlugin, PreScorePlugin, ScorePlugin):
    name = NAME
    normalizes = True

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if not node.taints:
            return None
        reason = fits(pod, node)
        return None if reason is None else Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, reason, plugin=NAME)

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        state.write(_STATE_KEY, prefer_no_schedule_tolerations(pod))
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        if not node.taints:
            return 0
        return count_intolerable_prefer_no_schedule(node, state.read(_STATE_KEY) or ())

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        tolerations = state.read(_STATE_KEY) or ()
        return [count_intolerable_prefer_no_schedule(n, tolerations) if n.taints else 0 for n in nodes]

    def normalize_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], scores: list[int]) -> None:
        default_normalize_score(scores, reverse=True)

    def events_to_register(self) -> list[EventRegistration]:
        return [
            EventRegistration(ClusterEvent(EventResource.NODE, ActionType.ADD | ActionType.UPDATE_NODE_TAINT),
                              _taints_now_tolerated),
            EventRegistration(ClusterEvent(EventResource.POD, ActionType.UPDATE_POD_TOLERATION)),
        ]
