"""Pod status from runtime state: phase, conditions, container statuses — as upstream computes them.

Design: :func:`pod_status` is a pure function of the pod, what the runtime says about its
containers (a :class:`RuntimeView`, built by the pod worker from CRI calls), the probe
results and the worker's own waiting reasons (``CrashLoopBackOff``, ``ErrImagePull`` …).
Nothing here is remembered between syncs, so a restarted kubelet reports the same status
from the same runtime state. Phase and conditions follow upstream's ``getPhase`` and
``Generate*Condition`` rules, sidecars (init containers with ``restartPolicy: Always``)
included: they report started/ready like app containers, count as initialized once started,
take part in readiness, and never hold a pod back from completing. Ephemeral containers get
statuses of their own and count for neither. A container with no instance waits with upstream's
default reason: ``PodInitializing`` in a pod with init containers, else ``ContainerCreating``.
The :class:`StatusManager` writes it with a merge patch on the
``status`` subresource, and only when it differs from the last one written for that pod
(transition times are carried over from the pod's current conditions, so an unchanged
condition never causes a write).
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass, field
from typing import Any

from kubeherd.client import APIClient, APIStatusError, ResourceRef

from .cgroups import is_sidecar
from .cri import ContainerState, ContainerStatus
from .kuberuntime import RESTART_COUNT, qos_class

log = logging.getLogger(__name__)
Obj = dict[str, Any]
PODS = ResourceRef("v1", "pods", True, "Pod")


def rfc3339(ns: int) -> str:
    return datetime.datetime.fromtimestamp(ns / 1e9, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def restart_count(status: ContainerStatus) -> int:
    text = status.labels.get(RESTART_COUNT) or status.annotations.get(RESTART_COUNT) or "0"
    return int(text) if text.isdigit() else 0


@dataclass
class RuntimeView:
    """What the runtime holds for one pod: its sandbox and every container instance by name,
    newest (highest restart count) first."""

    sandbox_id: str = ""
    sandbox_ready: bool = False
    pod_ip: str = ""
    extra_ips: list[str] = field(default_factory=list)
    containers: dict[str, list[ContainerStatus]] = field(default_factory=dict)
    messages: dict[str, str] = field(default_factory=dict)  # exited instance id → termination message

    def latest(self, name: str) -> ContainerStatus | None:
        instances = self.containers.get(name)
        return instances[0] if instances else None

    def previous(self, name: str) -> ContainerStatus | None:
        instances = self.containers.get(name) or []
        return instances[1] if len(instances) > 1 else None


def terminated_reason(status: ContainerStatus) -> str:
    if status.reason:
        return status.reason
    return "Completed" if status.exit_code == 0 else "Error"


def terminated(status: ContainerStatus, termination_message: str = "") -> Obj:
    """An exited instance's ``terminated`` state; its message is the runtime's, then what the
    container left as its termination message, joined by ": " as upstream."""
    out: Obj = {"exitCode": status.exit_code, "reason": terminated_reason(status),
                "startedAt": rfc3339(status.started_at) if status.started_at else None,
                "finishedAt": rfc3339(status.finished_at) if status.finished_at else None,
                "containerID": f"containerd://{status.id}"}
    message = ": ".join(m for m in (status.message, termination_message) if m)
    if message:
        out["message"] = message
    return out


def will_restart(pod: Obj, status: ContainerStatus, init: bool = False, *, sidecar: bool = False,
                 done: bool = False) -> bool:
    """Whether this exited instance is started again. Sidecars always are, until the pod's app
    containers are ``done`` for good."""
    if sidecar:
        return not done
    policy = (pod.get("spec") or {}).get("restartPolicy") or "Always"
    if init and policy == "Always":
        policy = "OnFailure"  # init containers that succeeded never run again
    if policy == "Always":
        return True
    return policy == "OnFailure" and status.exit_code != 0


def app_containers_done(pod: Obj, view: RuntimeView) -> bool:
    """Every app container exited and none will run again (never with ``restartPolicy: Always``):
    the pod completes, and its sidecars are stopped."""
    containers = (pod.get("spec") or {}).get("containers") or []
    for c in containers:
        latest = view.latest(c["name"])
        if latest is None or latest.state != ContainerState.CONTAINER_EXITED or will_restart(pod, latest):
            return False
    return bool(containers)


def default_waiting_reason(pod: Obj) -> str:
    """The waiting reason of a container with no instance and no reason of its own: upstream's
    ``PodInitializing`` for every container of a pod with init containers, else
    ``ContainerCreating``."""
    return "PodInitializing" if (pod.get("spec") or {}).get("initContainers") else "ContainerCreating"


def container_status(pod: Obj, spec: Obj, view: RuntimeView, *, init: bool, ready: bool, started: bool | None,
                     waiting: tuple[str, str] | None, done: bool = False) -> Obj:
    name = spec["name"]
    sidecar = init and is_sidecar(spec)
    latest = view.latest(name)
    out: Obj = {"name": name, "image": spec.get("image", ""), "imageID": "", "ready": False, "restartCount": 0,
                "started": False, "state": {}, "lastState": {}}
    if latest is None:
        reason, message = waiting or (default_waiting_reason(pod), "")
        out["state"] = {"waiting": {"reason": reason, **({"message": message} if message else {})}}
        return out
    out["restartCount"] = restart_count(latest)
    out["imageID"] = latest.image_ref
    out["containerID"] = f"containerd://{latest.id}"
    previous = view.previous(name)
    if latest.state == ContainerState.CONTAINER_RUNNING:
        out["state"] = {"running": {"startedAt": rfc3339(latest.started_at)}}
        out["started"] = bool(started) if started is not None else True
        out["ready"] = ready and out["started"]
        if previous is not None:
            out["lastState"] = {"terminated": terminated(previous, view.messages.get(previous.id, ""))}
    elif latest.state == ContainerState.CONTAINER_EXITED and waiting is not None and \
            will_restart(pod, latest, init, sidecar=sidecar, done=done):
        out["state"] = {"waiting": {"reason": waiting[0], **({"message": waiting[1]} if waiting[1] else {})}}
        out["lastState"] = {"terminated": terminated(latest, view.messages.get(latest.id, ""))}
    elif latest.state == ContainerState.CONTAINER_EXITED:
        out["state"] = {"terminated": terminated(latest, view.messages.get(latest.id, ""))}
        if previous is not None:
            out["lastState"] = {"terminated": terminated(previous, view.messages.get(previous.id, ""))}
    else:  # created, not started yet: waiting, with no reason (as upstream)
        out["state"] = {"waiting": {}}
        if previous is not None:
            out["lastState"] = {"terminated": terminated(previous, view.messages.get(previous.id, ""))}
    return out


def any_app_container_started(statuses: list[Obj]) -> bool:
    return any("running" in st["state"] or "terminated" in st["state"] for st in statuses)


def _phase(pod: Obj, init_specs: list[Obj], init_statuses: list[Obj], statuses: list[Obj]) -> str:
    """Upstream's ``getPhase`` (for a pod that is not known to be terminal yet)."""
    policy = (pod.get("spec") or {}).get("restartPolicy") or "Always"
    pending_init = pending_sidecars = failed_init = 0
    running = waiting = stopped = succeeded = 0
    for c, st in zip(init_specs, init_statuses, strict=True):
        state, last = st["state"], (st.get("lastState") or {}).get("terminated")
        if is_sidecar(c):
            if "running" in state:
                pending_sidecars += not st.get("started")
                running += 1
            elif "terminated" not in state and not last:
                pending_sidecars += 1
                waiting += 1
            continue  # a stopped sidecar does not count
        if "terminated" in state:
            failed_init += state["terminated"]["exitCode"] != 0
        elif "waiting" in state and last:
            failed_init += last["exitCode"] != 0
        else:
            pending_init += 1
    for st in statuses:
        state, last = st["state"], (st.get("lastState") or {}).get("terminated")
        if "running" in state:
            running += 1
        elif "terminated" in state:
            stopped += 1
            succeeded += state["terminated"]["exitCode"] == 0
        elif last:
            stopped += 1
        else:
            waiting += 1
    if failed_init and policy == "Never":
        return "Failed"
    if pending_init or (pending_sidecars and not any_app_container_started(statuses)) or waiting:
        return "Pending"
    if running:
        return "Running"
    if stopped:
        if policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        return "Failed" if policy == "Never" else "Running"
    return "Pending"


def _condition(kind: str, ok: bool, old: list[Obj], reason: str = "", message: str = "") -> Obj:
    status = "True" if ok else "False"
    previous = next((c for c in old if c.get("type") == kind), None)
    since = previous.get("lastTransitionTime") if previous and previous.get("status") == status else now()
    out: Obj = {"type": kind, "status": status, "lastProbeTime": None, "lastTransitionTime": since}
    if reason and not ok:
        out["reason"] = reason
    if message and not ok:
        out["message"] = message
    return out


def _names(names: list[str]) -> str:
    return "[" + " ".join(names) + "]"


def _initialized(pod: Obj, phase: str, init_specs: list[Obj], init_statuses: list[Obj], statuses: list[Obj],
                 old: list[Obj]) -> Obj:
    incomplete = []
    for c, st in zip(init_specs, init_statuses, strict=True):
        if is_sidecar(c):
            if not st.get("started"):
                incomplete.append(c["name"])
        elif (st["state"].get("terminated") or {}).get("exitCode", 1) != 0:
            incomplete.append(c["name"])
    if phase == "Succeeded":
        cond = _condition("Initialized", True, old)
        cond["reason"] = "PodCompleted"
        return cond
    if not incomplete or any_app_container_started(statuses):
        return _condition("Initialized", True, old)
    return _condition("Initialized", False, old, "ContainersNotInitialized",
                      f"containers with incomplete status: {_names(incomplete)}")


def _ready(kind: str, phase: str, init_specs: list[Obj], init_statuses: list[Obj], statuses: list[Obj],
           old: list[Obj]) -> Obj:
    if phase in ("Succeeded", "Failed"):
        return _condition(kind, False, old, "PodCompleted" if phase == "Succeeded" else "PodFailed")
    unready = [st["name"] for c, st in zip(init_specs, init_statuses, strict=True) if is_sidecar(c) and not st["ready"]]
    unready += [st["name"] for st in statuses if not st["ready"]]
    if unready:
        return _condition(kind, False, old, "ContainersNotReady", f"containers with unready status: {_names(unready)}")
    return _condition(kind, True, old)


def pod_status(pod: Obj, view: RuntimeView, *, host_ip: str, readiness: dict[str, bool],
               startup: dict[str, bool], waiting: dict[str, tuple[str, str]]) -> Obj:
    """The pod's whole ``status`` as this kubelet sees it now."""
    spec = pod.get("spec") or {}
    old = pod.get("status") or {}
    old_conditions = old.get("conditions") or []
    done = app_containers_done(pod, view)
    init_specs = spec.get("initContainers") or []
    init_statuses = [container_status(pod, c, view, init=True, ready=readiness.get(c["name"], True),
                                      started=startup.get(c["name"]), waiting=waiting.get(c["name"]), done=done)
                     for c in init_specs]
    for c, st in zip(init_specs, init_statuses, strict=True):
        if not is_sidecar(c):
            term = st["state"].get("terminated")
            st["ready"] = bool(term and term["exitCode"] == 0)
            st["started"] = "running" in st["state"]
    statuses = [container_status(pod, c, view, init=False, ready=readiness.get(c["name"], True),
                                 started=startup.get(c["name"]), waiting=waiting.get(c["name"]))
                for c in spec.get("containers") or []]
    phase = _phase(pod, init_specs, init_statuses, statuses)
    conditions = [
        _condition("PodReadyToStartContainers", view.sandbox_ready, old_conditions),
        _initialized(pod, phase, init_specs, init_statuses, statuses, old_conditions),
        _ready("Ready", phase, init_specs, init_statuses, statuses, old_conditions),
        _ready("ContainersReady", phase, init_specs, init_statuses, statuses, old_conditions),
    ]
    scheduled = next((c for c in old_conditions if c.get("type") == "PodScheduled"), None)
    if scheduled is not None:
        conditions.append(scheduled)
    pod_ip = host_ip if spec.get("hostNetwork") else view.pod_ip
    status: Obj = {
        "phase": phase, "conditions": conditions, "hostIP": host_ip, "hostIPs": [{"ip": host_ip}] if host_ip else [],
        "startTime": old.get("startTime") or now(), "qosClass": qos_class(pod),
        "containerStatuses": statuses,
    }
    if pod_ip:
        status["podIP"] = pod_ip
        status["podIPs"] = [{"ip": pod_ip}] + [{"ip": ip} for ip in view.extra_ips]
    if init_statuses:
        status["initContainerStatuses"] = init_statuses
    if spec.get("ephemeralContainers"):
        status["ephemeralContainerStatuses"] = [ephemeral_status(pod, c, view, waiting.get(c["name"]))
                                                for c in spec["ephemeralContainers"]]
    return status


def ephemeral_status(pod: Obj, spec: Obj, view: RuntimeView, waiting: tuple[str, str] | None) -> Obj:
    """An ephemeral container's status: as an app container's, but never ready, never restarted
    (its waiting reason is only ever one from before its single start) and without ``started``."""
    out = container_status(pod, spec, view, init=False, ready=False, started=None,
                           waiting=waiting if view.latest(spec["name"]) is None else None)
    out.pop("started", None)
    out["ready"] = False
    return out


def active_deadline_left(pod: Obj, status: Obj | None = None) -> float | None:
    """Seconds until the pod has been active for its ``spec.activeDeadlineSeconds`` (0 or less:
    past it), counted from ``status.startTime`` (of ``status``, else the pod's); None without a
    deadline or a start time."""
    deadline = (pod.get("spec") or {}).get("activeDeadlineSeconds")
    start = (status if status is not None else pod.get("status") or {}).get("startTime")
    if deadline is None or not start:
        return None
    try:
        started = datetime.datetime.fromisoformat(str(start).replace("Z", "+00:00"))
    except ValueError:
        return None
    active = (datetime.datetime.now(datetime.UTC) - started).total_seconds()
    return float(deadline) - active


def _comparable(status: Obj) -> Obj:
    """The status without the times that change on every computation."""
    return {**status, "startTime": None,
            "conditions": [{k: v for k, v in c.items() if k != "lastTransitionTime"}
                           for c in status.get("conditions") or []]}


class StatusManager:
    """Writes pod statuses, skipping writes that would change nothing."""

    def __init__(self, client: APIClient) -> None:
        self.client = client
        self._last: dict[str, Obj] = {}

    async def set_status(self, pod: Obj, status: Obj) -> None:
        meta = pod["metadata"]
        uid = meta["uid"]
        current = _comparable({**(pod.get("status") or {}), "startTime": None})
        wanted = _comparable(status)
        if self._last.get(uid) == wanted or all(current.get(k) == v for k, v in wanted.items()):
            self._last[uid] = wanted
            return
        try:
            await self.client.patch(PODS, meta["name"], {"metadata": {"uid": uid}, "status": status},
                                    meta["namespace"], subresource="status")
            self._last[uid] = wanted
        except APIStatusError as exc:
            if exc.code not in (404, 409, 422):
                raise
            log.debug("status of %s/%s not written: %s", meta["namespace"], meta["name"], exc)

    def forget(self, uid: str) -> None:
        self._last.pop(uid, None)
