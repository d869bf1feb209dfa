"""NodeUnschedulable: a cordoned node (`spec.unschedulable`) takes only pods that tolerate it.

A pod passes if it tolerates the `node.kubernetes.io/unschedulable:NoSchedule` taint, which is
how DaemonSet pods keep running on cordoned nodes.
"""

from __future__ import annotations

from typing import Any

from kubeherd.scheduler.events import ActionType, ClusterEvent, EventRegistration, EventResource
from kubeherd.scheduler.framework import CycleState, FilterPlugin
from kubeherd.scheduler.nodeinfo import NodeInfo
from kubeherd.scheduler.podinfo import PodInfo
from kubeherd.scheduler.types import NO_SCHEDULE, TAINT_NODE_UNSCHEDULABLE, Code, Status, Taint, tolerates

NAME = "NodeUnschedulable"
ERR_REASON_UNSCHEDULABLE = "node(s) were unschedulable"
_UNSCHEDULABLE_TAINT = Taint(TAINT_NODE_UNSCHEDULABLE, "", NO_SCHEDULE)
_REJECT = Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ERR_REASON_UNSCHEDULABLE, plugin=NAME)


def fits(pod: PodInfo, node: NodeInfo) -> bool:
    return not node.unschedulable or tolerates(pod.tolerations, _UNSCHEDULABLE_TAINT)


def _node_became_schedulable(pod: PodInfo, old: Any, new: Any) -> bool:
    return new is not None and not (new.get("spec") or {}).get("unschedulable")


class NodeUnschedulable(FilterPlugin):
    name = NAME

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        return None if fits(pod, node) else _REJECT

    def events_to_register(self) -> list[EventRegistration]:
        return [
            EventRegistration(ClusterEvent(EventResource.NODE, ActionType.ADD | ActionType.UPDATE_NODE_TAINT),
                              _node_became_schedulable),
            EventRegistration(ClusterEvent(EventResource.POD, ActionType.UPDATE_POD_TOLERATION)),
        ]
