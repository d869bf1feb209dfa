"""NodePorts: a pod's host ports must be free on the node (same protocol; 0.0.0.0 clashes with any IP)."""

from __future__ import annotations

from typing import Any

from kubeherd.scheduler.events import NODE_ADD, ActionType, ClusterEvent, EventRegistration, EventResource
from kubeherd.scheduler.framework import CycleState, FilterPlugin, PreFilterPlugin
from kubeherd.scheduler.nodeinfo import NodeInfo
from kubeherd.scheduler.podinfo import PodInfo
from kubeherd.scheduler.types import Code, HostPortInfo, Status

NAME = "NodePorts"
ERR_REASON = "node(s) didn't have free ports for the requested pod ports"
_REJECT = Status(Code.UNSCHEDULABLE, ERR_REASON, plugin=NAME)
_SKIP = Status(Code.SKIP)


def fits(pod: PodInfo, node: NodeInfo) -> bool:
    return not any(node.used_ports.conflicts(hp) for hp in pod.host_ports)


def _deleted_pod_freed_a_port(pod: PodInfo, old: Any, new: Any) -> bool:
    if not isinstance(old, PodInfo) or not old.host_ports:
        return False
    freed = HostPortInfo()
    for hp in old.host_ports:
        freed.add(hp)
    return any(freed.conflicts(hp) for hp in pod.host_ports)


class NodePorts(PreFilterPlugin, FilterPlugin):
    name = NAME

    def pre_filter(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        return None if pod.host_ports else _SKIP

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        return None if fits(pod, node) else _REJECT

    def events_to_register(self) -> list[EventRegistration]:
        return [EventRegistration(ClusterEvent(EventResource.ASSIGNED_POD, ActionType.DELETE), _deleted_pod_freed_a_port),
                EventRegistration(NODE_ADD)]
