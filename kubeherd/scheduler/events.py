"""Cluster events: what changed in the cluster, in the terms plugins use to say what could help them.

A pod that no node fits waits in the unschedulable pool until something happens that could make
it fit. Each plugin declares the events that could undo its own rejections (NodeResourcesFit: a
node added or given more allocatable, a scheduled pod deleted; TaintToleration: a node's taints
changing; ...), optionally with a hint that looks at the change itself ("does the new node have
room for this pod?"). The queue moves a waiting pod only when an event matches a plugin that
rejected it and the hint agrees — never on a timer, except upstream's five-minute safety flush.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kubeherd.scheduler.types import Obj


class ActionType(enum.IntFlag):
    ADD = 1
    DELETE = 2
    UPDATE_NODE_ALLOCATABLE = 4
    UPDATE_NODE_LABEL = 8
    UPDATE_NODE_TAINT = 16  # also spec.unschedulable, which acts as a taint
    UPDATE_NODE_CONDITION = 32
    UPDATE_NODE_ANNOTATION = 64
    UPDATE_POD_LABEL = 128
    UPDATE_POD_SCALE_DOWN = 256
    UPDATE_POD_TOLERATION = 512
    UPDATE_POD_SCHEDULING_GATES_ELIMINATED = 1024
    UPDATE_OTHER = 2048  # any other change of the object

    @classmethod
    def update(cls) -> ActionType:
        return (cls.UPDATE_NODE_ALLOCATABLE | cls.UPDATE_NODE_LABEL | cls.UPDATE_NODE_TAINT
                | cls.UPDATE_NODE_CONDITION | cls.UPDATE_NODE_ANNOTATION | cls.UPDATE_POD_LABEL
                | cls.UPDATE_POD_SCALE_DOWN | cls.UPDATE_POD_TOLERATION
                | cls.UPDATE_POD_SCHEDULING_GATES_ELIMINATED | cls.UPDATE_OTHER)

    @classmethod
    def all(cls) -> ActionType:
        return cls.ADD | cls.DELETE | cls.update()


class EventResource(enum.Enum):
    POD = "Pod"  # the unscheduled pod itself
    ASSIGNED_POD = "AssignedPod"  # a pod already on a node
    NODE = "Node"
    PVC = "PersistentVolumeClaim"
    PV = "PersistentVolume"
    STORAGE_CLASS = "StorageClass"
    WILDCARD = "*"


@dataclass(frozen=True, slots=True)
class ClusterEvent:
    resource: EventResource
    action: ActionType
    label: str = ""

    def matches(self, happened: ClusterEvent) -> bool:
        """Whether this registration covers an event that happened."""
        if self.resource is EventResource.WILDCARD or happened.resource is EventResource.WILDCARD:
            return True
        return self.resource is happened.resource and bool(self.action & happened.action)


# A hint looks at one change for one waiting pod: True means "worth another try".
Hint = Callable[[Any, Any, Any], bool]


@dataclass(frozen=True, slots=True)
class EventRegistration:
    event: ClusterEvent
    hint: Hint | None = None


# Events that come up often enough to name.
NODE_ADD = ClusterEvent(EventResource.NODE, ActionType.ADD, "NodeAdd")
NODE_DELETE = ClusterEvent(EventResource.NODE, ActionType.DELETE, "NodeDelete")
ASSIGNED_POD_ADD = ClusterEvent(EventResource.ASSIGNED_POD, ActionType.ADD, "AssignedPodAdd")
ASSIGNED_POD_DELETE = ClusterEvent(EventResource.ASSIGNED_POD, ActionType.DELETE, "AssignedPodDelete")
UNSCHEDULABLE_TIMEOUT = ClusterEvent(EventResource.WILDCARD, ActionType.all(), "UnschedulableTimeout")
FORCE_ACTIVATE = ClusterEvent(EventResource.WILDCARD, ActionType.all(), "ForceActivate")


def _resources(obj: Obj) -> Obj:
    return (obj.get("status") or {}).get("allocatable") or (obj.get("status") or {}).get("capacity") or {}


def node_update_events(old: Obj, new: Obj) -> list[ClusterEvent]:
    """The scheduling-relevant ways a node changed (upstream's nodeSchedulingPropertiesChange)."""
    events = []
    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
    if bool(old_spec.get("unschedulable")) != bool(new_spec.get("unschedulable")):
        events.append(ClusterEvent(EventResource.NODE, ActionType.UPDATE_NODE_TAINT, "NodeSpecUnschedulableChange"))
    if _resources(old) != _resources(new):
        events.append(ClusterEvent(EventResource.NODE, ActionType.UPDATE_NODE_ALLOCATABLE, "NodeAllocatableChange"))
    if (old.get("metadata") or {}).get("labels") != (new.get("metadata") or {}).get("labels"):
        events.append(ClusterEvent(EventResource.NODE, ActionType.UPDATE_NODE_LABEL, "NodeLabelChange"))
    if (old_spec.get("taints") or []) != (new_spec.get("taints") or []):
        events.append(ClusterEvent(EventResource.NODE, ActionType.UPDATE_NODE_TAINT, "NodeTaintChange"))
    if _conditions(old) != _conditions(new):
        events.append(ClusterEvent(EventResource.NODE, ActionType.UPDATE_NODE_CONDITION, "NodeConditionChange"))
    if (old.get("metadata") or {}).get("annotations") != (new.get("metadata") or {}).get("annotations"):
        events.append(ClusterEvent(EventResource.NODE, ActionType.UPDATE_NODE_ANNOTATION, "NodeAnnotationChange"))
    return events


def _conditions(node: Obj) -> dict[str, str]:
    """Condition statuses only: heartbeat times change every few seconds and mean nothing here."""
    return {str(c.get("type")): str(c.get("status")) for c in (node.get("status") or {}).get("conditions") or []}


def _container_requests(pod: Obj) -> list[Mapping[str, Any]]:
    spec = pod.get("spec") or {}
    return [((c.get("resources") or {}).get("requests") or {}) for c in
            (spec.get("initContainers") or []) + (spec.get("containers") or []) if isinstance(c, dict)]


def pod_update_events(old: Obj, new: Obj, assigned: bool) -> list[ClusterEvent]:
    """The scheduling-relevant ways a pod changed; `assigned` pods are other pods, already placed."""
    resource = EventResource.ASSIGNED_POD if assigned else EventResource.POD
    events = []
    old_meta, new_meta = old.get("metadata") or {}, new.get("metadata") or {}
    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
    if old_meta.get("labels") != new_meta.get("labels"):
        events.append(ClusterEvent(resource, ActionType.UPDATE_POD_LABEL, "PodLabelChange"))
    if _container_requests(old) != _container_requests(new):
        events.append(ClusterEvent(resource, ActionType.UPDATE_POD_SCALE_DOWN, "PodRequestScaledDown"))
    if old_spec.get("tolerations") != new_spec.get("tolerations"):
        events.append(ClusterEvent(resource, ActionType.UPDATE_POD_TOLERATION, "PodTolerationChange"))
    if old_spec.get("schedulingGates") and not new_spec.get("schedulingGates"):
        events.append(ClusterEvent(resource, ActionType.UPDATE_POD_SCHEDULING_GATES_ELIMINATED,
                                   "PodSchedulingGateEliminatedChange"))
    if not events:
        events.append(ClusterEvent(resource, ActionType.UPDATE_OTHER, "PodUpdate"))
    return events
