"""NodeName: a pod that names its node (`spec.nodeName`) fits only that node."""

from __future__ import annotations

from kubeherd.scheduler.events import NODE_ADD, EventRegistration
from kubeherd.scheduler.framework import CycleState, FilterPlugin, PreFilterPlugin
from kubeherd.scheduler.nodeinfo import NodeInfo
from kubeherd.scheduler.podinfo import PodInfo
from kubeherd.scheduler.types import Code, Status

NAME = "NodeName"
ERR_REASON = "node(s) didn't match the requested node name"
_REJECT = Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ERR_REASON, plugin=NAME)
_SKIP = Status(Code.SKIP)


def fits(pod: PodInfo, node: NodeInfo) -> bool:
    return not pod.node_name or pod.node_name == node.name


class NodeName(PreFilterPlugin, FilterPlugin):
    name = NAME

    def pre_filter(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        return None if pod.node_name else _SKIP  # nothing to check for pods that name no node

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        return None if fits(pod, node) else _REJECT

    def events_to_register(self) -> list[EventRegistration]:
        return [EventRegistration(NODE_ADD)]
