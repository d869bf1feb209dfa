"""SchedulingGates: a pod with `spec.schedulingGates` is held out of the active queue until they are removed."""

from __future__ import annotations

from kubeherd.scheduler.events import ActionType, ClusterEvent, EventRegistration, EventResource
from kubeherd.scheduler.framework import PreEnqueuePlugin
from kubeherd.scheduler.podinfo import PodInfo
from kubeherd.scheduler.types import Code, Status

NAME = "SchedulingGates"


def gates(pod: PodInfo) -> list[str]:
    return [str(g.get("name")) for g in (pod.pod.get("spec") or {}).get("schedulingGates") or []
            if isinstance(g, dict)]


class SchedulingGates(PreEnqueuePlugin):
    name = NAME

    def pre_enqueue(self, pod: PodInfo) -> Status | None:
        if not pod.scheduling_gated:
            return None
        return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, f"waiting for scheduling gates: {gates(pod)}", plugin=NAME)

    def events_to_register(self) -> list[EventRegistration]:
        return [EventRegistration(ClusterEvent(EventResource.POD, ActionType.UPDATE_POD_SCHEDULING_GATES_ELIMINATED))]
