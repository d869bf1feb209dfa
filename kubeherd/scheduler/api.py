"""Every write the scheduler makes, in one place: binding, pod conditions, preemption, events.

`SchedulerAPI` is what the scheduling loop and plugins call; `ClientAPI` does it through the
project's API client, as any other client would. Tests and the benchmark substitute their own.

Pod status writes follow upstream's updatePod: the PodScheduled condition is replaced (its
lastTransitionTime kept when the status does not change) and nothing is written when neither it
nor nominatedNodeName changed, so a pod retried a hundred times for the same reason costs one
write. Writes are merge patches guarded by the pod's resourceVersion and retried on conflict, so
a condition another component (a kubelet) set meanwhile is never lost.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from typing import Any, Protocol

from kubeherd.client import MERGE, APIClient, APIStatusError, EventRecorder, ResourceRef
from kubeherd.scheduler.podinfo import PodInfo
from kubeherd.scheduler.types import Obj

log = logging.getLogger(__name__)

PODS = ResourceRef("v1", "pods", True, "Pod")
REFS = {
    "persistentvolumes": ResourceRef("v1", "persistentvolumes", False, "PersistentVolume"),
    "persistentvolumeclaims": ResourceRef("v1", "persistentvolumeclaims", True, "PersistentVolumeClaim"),
}
# Event and condition messages longer than this are cut (upstream's NoteLengthLimit).
NOTE_LENGTH_LIMIT = 1024
CONFLICT_RETRIES = 5


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def truncate(message: str) -> str:
    if len(message) <= NOTE_LENGTH_LIMIT:
        return message
    return message[:NOTE_LENGTH_LIMIT - 4] + " ..."


def updated_conditions(conditions: list[Obj], condition: Obj) -> tuple[list[Obj], bool]:
    """Put `condition` into `conditions` as upstream's UpdatePodCondition; returns (new list, changed)."""
    out = [dict(c) for c in conditions]
    new = {k: v for k, v in condition.items() if v not in (None, "")}
    for i, old in enumerate(out):
        if old.get("type") != condition.get("type"):
            continue
        if old.get("status") == new.get("status"):
            new["lastTransitionTime"] = old.get("lastTransitionTime") or now()
        else:
            new["lastTransitionTime"] = now()
        changed = any(old.get(k) != new.get(k) for k in ("status", "reason", "message", "lastTransitionTime"))
        out[i] = new
        return out, changed
    new["lastTransitionTime"] = now()
    out.append(new)
    return out, True


class SchedulerAPI(Protocol):
    async def bind(self, pod: PodInfo, binding: Obj) -> None: ...

    async def update_pod_status(self, pod: PodInfo, condition: Obj | None,
                                nominated_node: str | None = None) -> None:
        """Set a condition and/or status.nominatedNodeName (None leaves it alone, "" clears it)."""

    async def set_nominated_node(self, pod: PodInfo, node_name: str) -> None: ...

    async def preempt(self, victim: PodInfo, preemptor: PodInfo, node_name: str, scheduler_name: str) -> None: ...

    async def patch_object(self, resource: str, namespace: str, name: str, patch: Obj) -> None: ...

    def record(self, obj: Obj, event_type: str, reason: str, message: str) -> None: ...


class ClientAPI:
    """SchedulerAPI over the project's API client (in-process or HTTPS)."""

    def __init__(self, client: APIClient, recorder: EventRecorder,
                 current: Callable[[PodInfo], Obj | None] | None = None) -> None:
        self.client = client
        self.recorder = recorder
        # the freshest copy of a pod we know (the informer cache), to compute status writes from
        self.current = current or (lambda pod: pod.pod)

    async def bind(self, pod: PodInfo, binding: Obj) -> None:
        await self.client.create(PODS, binding, pod.namespace, subresource="binding", name=pod.name)

    async def update_pod_status(self, pod: PodInfo, condition: Obj | None, nominated_node: str | None = None) -> None:
        obj = self.current(pod) or pod.pod
        for attempt in range(CONFLICT_RETRIES):
            status = obj.get("status") or {}
            patch_status: Obj = {}
            if condition is not None:
                conditions, changed = updated_conditions(status.get("conditions") or [], condition)
                if changed:
                    patch_status["conditions"] = conditions
            if nominated_node is not None and (status.get("nominatedNodeName") or "") != nominated_node:
                patch_status["nominatedNodeName"] = nominated_node or None
            if not patch_status:
                return
            patch = {"metadata": {"resourceVersion": obj["metadata"].get("resourceVersion")}, "status": patch_status}
            try:
                await self.client.patch(PODS, pod.name, patch, pod.namespace, content_type=MERGE, subresource="status")
                return
            except APIStatusError as exc:
                if exc.code == 404:
                    return
                if exc.code != 409 or attempt == CONFLICT_RETRIES - 1:
                    raise
            obj = await self.client.get(PODS, pod.name, pod.namespace)

    async def set_nominated_node(self, pod: PodInfo, node_name: str) -> None:
        await self.update_pod_status(pod, None, node_name)

    async def preempt(self, victim: PodInfo, preemptor: PodInfo, node_name: str, scheduler_name: str) -> None:
        condition = {"type": "DisruptionTarget", "status": "True", "reason": "PreemptionByScheduler",
                     "message": f"{scheduler_name}: preempting to accommodate a higher priority pod"}
        try:
            await self.update_pod_status(victim, condition)
            await self.client.delete(PODS, victim.name, victim.namespace,
                                     preconditions={"uid": victim.uid} if victim.uid != victim.key else None)
        except APIStatusError as exc:
            if exc.code == 404:
                return
            raise
        self.record(victim.pod, "Normal", "Preempted", f"Preempted by pod {preemptor.uid} on node {node_name}")

    async def patch_object(self, resource: str, namespace: str, name: str, patch: Obj) -> None:
        await self.client.patch(REFS[resource], name, patch, namespace, content_type=MERGE)

    def record(self, obj: Obj, event_type: str, reason: str, message: str) -> None:
        self.recorder.record(obj, event_type, reason, truncate(message))


class NullAPI:
    """Writes nothing: binding succeeds at once (benchmarks and what-if runs)."""

    def __init__(self, on_bind: Callable[[PodInfo, str], Any] | None = None) -> None:
        self.on_bind = on_bind
        self.events: list[tuple[str, str, str]] = []

    async def bind(self, pod: PodInfo, binding: Obj) -> None:
        if self.on_bind is not None:
            self.on_bind(pod, binding["target"]["name"])

    async def update_pod_status(self, pod: PodInfo, condition: Obj | None, nominated_node: str | None = None) -> None:
        return None

    async def set_nominated_node(self, pod: PodInfo, node_name: str) -> None:
        return None

    async def preempt(self, victim: PodInfo, preemptor: PodInfo, node_name: str, scheduler_name: str) -> None:
        return None

    async def patch_object(self, resource: str, namespace: str, name: str, patch: Obj) -> None:
        return None

    def record(self, obj: Obj, event_type: str, reason: str, message: str) -> None:
        self.events.append((event_type, reason, message))
