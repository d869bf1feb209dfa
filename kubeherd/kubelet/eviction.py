"""Node-pressure eviction: watch memory and disk signals, report pressure, evict pods to relieve it.

Design, after upstream's eviction manager (``pkg/kubelet/eviction``):

* **Signals** are observed every ``housekeeping-interval`` (10 s): ``memory.available`` is the
  machine's memory minus the working set of the root memory cgroup (usage − inactive file, as
  upstream on cgroup v1; ``MemAvailable`` where there is no v1 memory controller);
  ``nodefs.available`` / ``nodefs.inodesFree`` come from ``statvfs`` of the data directory,
  ``imagefs.*`` from ``statvfs`` of containerd's root.
* **Thresholds** (:class:`Threshold`) are hard (act at once) or soft (act once met for their
  grace period). A threshold met on the previous pass stays met until the signal clears it by
  its minimum reclaim, so eviction does not flap around the line.
* **Node conditions** ``MemoryPressure`` / ``DiskPressure`` turn True as soon as a threshold is
  met (grace periods do not delay them) and back to False only after
  ``eviction-pressure-transition-period`` without one. The node lifecycle controller turns them
  into the ``node.kubernetes.io/{memory,disk}-pressure`` taints.
* **One pod per pass**: the actionable threshold that matters most (memory first) picks the
  resource; pods are ranked as upstream (:func:`rank_pods`: usage above requests first, then
  lower priority, then the larger excess) and the first evictable one is killed (grace 1 s for
  hard thresholds, ``eviction-max-pod-grace-period`` capped by the pod's own for soft ones)
  and reported ``Failed``/``Evicted`` with upstream's message and a ``DisruptionTarget``
  condition, plus an ``Evicted`` event. Static, mirror and critical-priority pods are never
  evicted. The pod workers treat an evicted pod as terminal from that moment (:attr:`evicted`),
  so nothing restarts it before its status reaches the API.

The pure parts (thresholds, ranking, messages) are functions; :class:`EvictionManager` only
adds the loop, the observations and the side effects.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubeherd.api.quantity import BINARY_SI, Quantity, parse_quantity
from kubeherd.client import EventRecorder

from .config import KubeletConfig
from .cri import CRIClient, CRIError
from .kuberuntime import CONTAINER_NAME, POD_UID, qos_class

log = logging.getLogger(__name__)
Obj = dict[str, Any]

MEMORY = "memory.available"
NODEFS = "nodefs.available"
NODEFS_INODES = "nodefs.inodesFree"
IMAGEFS = "imagefs.available"
IMAGEFS_INODES = "imagefs.inodesFree"
PIDS = "pid.available"

# the node condition each signal drives, and the resource named in eviction messages
CONDITION_OF = {MEMORY: "MemoryPressure", NODEFS: "DiskPressure", NODEFS_INODES: "DiskPressure",
                IMAGEFS: "DiskPressure", IMAGEFS_INODES: "DiskPressure", PIDS: "PIDPressure"}
RESOURCE_OF = {MEMORY: "memory", NODEFS: "ephemeral-storage", NODEFS_INODES: "inodes",
               IMAGEFS: "ephemeral-storage", IMAGEFS_INODES: "inodes", PIDS: "pids"}
# which threshold to act on first when several are met (upstream orders memory first)
SIGNAL_ORDER = (MEMORY, NODEFS, NODEFS_INODES, IMAGEFS, IMAGEFS_INODES, PIDS)

# (status, reason, message) of each condition, as upstream's kubelet reports them
CONDITION_TEXT = {
    ("MemoryPressure", True): ("KubeletHasInsufficientMemory", "kubelet has insufficient memory available"),
    ("MemoryPressure", False): ("KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    ("DiskPressure", True): ("KubeletHasDiskPressure", "kubelet has disk pressure"),
    ("DiskPressure", False): ("KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", True): ("KubeletHasInsufficientPID", "kubelet has insufficient PID available"),
    ("PIDPressure", False): ("KubeletHasSufficientPID", "kubelet has sufficient PID available"),
}
# the Node events recorded when a condition changes
NODE_EVENT = {
    ("MemoryPressure", True): "NodeHasInsufficientMemory", ("MemoryPressure", False): "NodeHasSufficientMemory",
    ("DiskPressure", True): "NodeHasDiskPressure", ("DiskPressure", False): "NodeHasNoDiskPressure",
    ("PIDPressure", True): "NodeHasInsufficientPID", ("PIDPressure", False): "NodeHasSufficientPID",
}

SYSTEM_CRITICAL_PRIORITY = 2_000_000_000  # pods at or above it are never evicted
HARD_EVICTION_GRACE = 1  # upstream's "immediate" eviction still gives the containers a second
CONFIG_SOURCE = "kubernetes.io/config.source"
CONFIG_MIRROR = "kubernetes.io/config.mirror"


# ---------------------------------------------------------------------------------- thresholds
@dataclass(frozen=True)
class Threshold:
    """``signal < value`` where value is a quantity or a fraction of the signal's capacity."""

    signal: str
    quantity: int | None = None
    percentage: float | None = None  # 0 < p <= 1
    grace_period: float = 0.0
    hard: bool = True
    min_reclaim: str = ""  # a quantity or a percentage; "" = none

    def value(self, capacity: int) -> int:
        if self.quantity is not None:
            return self.quantity
        return int(capacity * (self.percentage or 0.0))

    def reclaim(self, capacity: int) -> int:
        return _amount(self.min_reclaim, capacity) if self.min_reclaim else 0


def _amount(text: str, capacity: int) -> int:
    if text.endswith("%"):
        return int(capacity * float(text[:-1]) / 100)
    return parse_quantity(text).value()


def _threshold(signal: str, text: str, *, hard: bool, grace: float, reclaim: str) -> Threshold:
    if text.endswith("%"):
        return Threshold(signal, percentage=float(text[:-1]) / 100, hard=hard, grace_period=grace,
                         min_reclaim=reclaim)
    return Threshold(signal, quantity=parse_quantity(text).value(), hard=hard, grace_period=grace,
                     min_reclaim=reclaim)


def parse_thresholds(config: KubeletConfig) -> list[Threshold]:
    """The hard and soft thresholds of a (validated) :class:`KubeletConfig`."""
    reclaim = config.eviction_minimum_reclaim
    out = [_threshold(s, v, hard=True, grace=0.0, reclaim=reclaim.get(s, "")) for s, v in config.eviction_hard.items()]
    out += [_threshold(s, v, hard=False, grace=config.eviction_soft_grace_period.get(s, 0.0),
                       reclaim=reclaim.get(s, "")) for s, v in config.eviction_soft.items()]
    return out


@dataclass(frozen=True)
class Observation:
    available: int
    capacity: int


def thresholds_met(thresholds: Iterable[Threshold], observations: dict[str, Observation],
                   enforce_min_reclaim: bool = False) -> list[Threshold]:
    """The thresholds whose signal is below them (plus their minimum reclaim, if asked)."""
    met = []
    for t in thresholds:
        obs = observations.get(t.signal)
        if obs is None:
            continue
        line = t.value(obs.capacity) + (t.reclaim(obs.capacity) if enforce_min_reclaim else 0)
        if obs.available < line:
            met.append(t)
    return met


def quantity_text(value: int) -> str:
    return str(Quantity.from_int(value, BINARY_SI))


def threshold_text(t: Threshold, capacity: int) -> str:
    """The threshold as the eviction message states it (a percentage resolved to a quantity)."""
    return quantity_text(t.value(capacity))


# ---------------------------------------------------------------------------------- ranking
@dataclass
class PodUsage:
    """What ranking needs to know of one active pod."""

    pod: Obj
    memory: int | None = None  # working set of its containers; None: no stats
    disk: int | None = None  # writable layers + logs
    containers: dict[str, tuple[int, int]] = field(default_factory=dict)  # name -> (memory, disk)

    @property
    def uid(self) -> str:
        return str(self.pod["metadata"]["uid"])

    def priority(self) -> int:
        value = (self.pod.get("spec") or {}).get("priority")
        return int(value) if isinstance(value, int) else 0

    def request(self, resource: str) -> int:
        total = 0
        for c in (self.pod.get("spec") or {}).get("containers") or []:
            text = ((c.get("resources") or {}).get("requests") or {}).get(resource)
            if text is not None:
                with contextlib.suppress(ValueError):
                    total += parse_quantity(str(text)).value()
        return total

    def usage(self, resource: str) -> int | None:
        return {"memory": self.memory, "ephemeral-storage": self.disk}.get(resource)


def rank_pods(pods: Iterable[PodUsage], resource: str) -> list[PodUsage]:
    """Pods in upstream's eviction order for ``resource`` (memory or ephemeral-storage): those
    without stats or using more than they requested first, then lower priority first, then
    (pods without stats first) the larger usage above the request first."""
    def key(p: PodUsage) -> tuple[bool, int, bool, int]:
        usage = p.usage(resource)
        if usage is None:  # no stats: counts as over its request, and before those with stats
            return (False, p.priority(), False, 0)
        excess = usage - p.request(resource)
        return (excess <= 0, p.priority(), True, -excess)
    return sorted(pods, key=key)


def _tolerates_memory_pressure(pod: Obj) -> bool:
    for t in (pod.get("spec") or {}).get("tolerations") or []:
        key_ok = t.get("key") == "node.kubernetes.io/memory-pressure" or (not t.get("key") and t.get("operator") == "Exists")
        if key_ok and t.get("effect") in (None, "", "NoSchedule") and (t.get("operator") == "Exists" or not t.get("value")):
            return True
    return False


def evictable(pod: Obj) -> bool:
    """Static, mirror and critical pods stay, as upstream's ``IsCriticalPod``."""
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    if annotations.get(CONFIG_SOURCE, "api") != "api" or CONFIG_MIRROR in annotations:
        return False
    priority = (pod.get("spec") or {}).get("priority")
    return not (isinstance(priority, int) and priority >= SYSTEM_CRITICAL_PRIORITY)


def eviction_message(threshold: Threshold, observation: Observation, usage: PodUsage) -> str:
    """Upstream's message: the node's shortage, then every container using more than it requested."""
    resource = RESOURCE_OF[threshold.signal]
    message = (f"The node was low on resource: {resource}. Threshold quantity: "
               f"{threshold_text(threshold, observation.capacity)}, available: "
               f"{quantity_text(max(observation.available, 0))}. ")
    if resource not in ("memory", "ephemeral-storage"):
        return message
    index = 0 if resource == "memory" else 1
    for c in (usage.pod.get("spec") or {}).get("containers") or []:
        used = usage.containers.get(c["name"])
        if used is None:
            continue
        text = ((c.get("resources") or {}).get("requests") or {}).get(resource)
        request = parse_quantity(str(text)).value() if text is not None else 0
        if used[index] > request:
            message += (f"Container {c['name']} was using {quantity_text(used[index])}, request is "
                        f"{text if text is not None else 0}, has larger consumption of {resource}. ")
    return message


# ---------------------------------------------------------------------------------- observing
def read_memory(cgroup_root: Path = Path("/sys/fs/cgroup/memory"), meminfo: Path = Path("/proc/meminfo")) -> Observation:
    """``memory.available`` as upstream computes it on cgroup v1."""
    info: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for line in meminfo.read_text().splitlines():
            name, _, rest = line.partition(":")
            parts = rest.split()
            if parts and parts[0].isdigit():
                info[name] = int(parts[0]) * 1024
    capacity = info.get("MemTotal", 0)
    try:
        usage = int((cgroup_root / "memory.usage_in_bytes").read_text())
        inactive = 0
        for line in (cgroup_root / "memory.stat").read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == "total_inactive_file":
                inactive = int(value)
        working_set = max(0, usage - inactive)
        return Observation(capacity - working_set, capacity)
    except (OSError, ValueError):
        return Observation(info.get("MemAvailable", capacity), capacity)


def read_fs(path: Path) -> tuple[Observation, Observation] | None:
    """(bytes, inodes) available and total on the filesystem holding ``path``."""
    try:
        st = os.statvfs(path)
    except OSError:
        return None
    return (Observation(st.f_bavail * st.f_frsize, st.f_blocks * st.f_frsize),
            Observation(st.f_favail, st.f_files))


def read_pids(proc: Path = Path("/proc")) -> Observation | None:
    """``pid.available`` as upstream computes it: the kernel's process limit (the smaller of
    pid_max and threads-max) less the tasks that exist now."""
    try:
        limit = min(int((proc / "sys/kernel/pid_max").read_text()), int((proc / "sys/kernel/threads-max").read_text()))
        running = int((proc / "loadavg").read_text().split()[3].split("/")[1])
    except (OSError, ValueError, IndexError):
        return None
    return Observation(limit - running, limit)


def observe(data_dir: Path, imagefs_dir: Path) -> dict[str, Observation]:
    observations = {MEMORY: read_memory()}
    pids = read_pids()
    if pids is not None:
        observations[PIDS] = pids
    nodefs = read_fs(data_dir)
    if nodefs is not None:
        observations[NODEFS], observations[NODEFS_INODES] = nodefs
    imagefs = read_fs(imagefs_dir) if imagefs_dir.exists() else None
    if imagefs is not None:
        observations[IMAGEFS], observations[IMAGEFS_INODES] = imagefs
    return observations


def _dir_size(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------------- the manager
Evict = Callable[[Obj, int, str], Awaitable[None]]


DEADLINE_EXCEEDED = "DeadlineExceeded"
DEADLINE_MESSAGE = "Pod was active on the node longer than the specified deadline"


def deadline_exceeded_status(status: Obj) -> Obj:
    """A pod status (as the kubelet computed it after killing the pod) turned into that of a pod
    past its ``activeDeadlineSeconds``, as upstream's active-deadline handler reports it."""
    return {**status, "phase": "Failed", "reason": DEADLINE_EXCEEDED, "message": DEADLINE_MESSAGE}


def rejected_status(pod: Obj, reason: str, message: str) -> Obj:
    """The status of a pod the kubelet refused to start (upstream's ``rejectPod``)."""
    return {"phase": "Failed", "reason": reason, "message": "Pod was rejected: " + message,
            "qosClass": qos_class(pod)}


def evicted_status(status: Obj, message: str) -> Obj:
    """A pod status (as the kubelet computed it after killing the pod) turned into an eviction's."""
    out = {**status, "phase": "Failed", "reason": "Evicted", "message": message}
    out["conditions"] = [c for c in status.get("conditions") or [] if c.get("type") != "DisruptionTarget"] + [
        {"type": "DisruptionTarget", "status": "True", "reason": "TerminationByKubelet", "message": message,
         "lastTransitionTime": _now()}]
    return out


class EvictionManager:
    """Observes signals every ``interval`` and evicts at most one pod per pass.

    ``active_pods`` gives the pods the kubelet runs; ``evict(pod, grace, message)`` kills one and
    reports it evicted; ``conditions_changed`` is awaited when a node condition flips (the kubelet
    posts its node status then, rather than at its next periodic update).
    """

    def __init__(self, config: KubeletConfig, cri: CRIClient, data_dir: Path, imagefs_dir: Path,
                 logs_root: Path, active_pods: Callable[[], list[Obj]], evict: Evict,
                 conditions_changed: Callable[[], Awaitable[None]], recorder: EventRecorder | None = None,
                 node_name: str = "", observer: Callable[[], dict[str, Observation]] | None = None) -> None:
        self.config = config
        self.recorder = recorder
        self.node_name = node_name
        self.cri = cri
        self.logs_root = logs_root
        self.thresholds = parse_thresholds(config)
        self.active_pods = active_pods
        self.evict = evict
        self.conditions_changed = conditions_changed
        self.observer = observer or (lambda: observe(data_dir, imagefs_dir))
        self.interval = config.housekeeping_interval
        self.evicted: set[str] = set()  # uids evicted by this kubelet: terminal from now on
        self.observations: dict[str, Observation] = {}
        self._met: list[Threshold] = []
        self._first_observed: dict[Threshold, float] = {}
        self._last_observed: dict[str, float] = {}  # condition -> last time a threshold drove it
        self._pressure: dict[str, bool] = {"MemoryPressure": False, "DiskPressure": False, "PIDPressure": False}
        self._transitions: dict[str, str] = {}

    # ------------------------------------------------------------------ node status
    def conditions(self) -> list[Obj]:
        """The pressure conditions for the node status, with their own transition times."""
        now = _now()
        out = []
        for kind, status in self._pressure.items():
            reason, message = CONDITION_TEXT[(kind, status)]
            out.append({"type": kind, "status": "True" if status else "False", "lastHeartbeatTime": now,
                        "lastTransitionTime": self._transitions.setdefault(kind, now),
                        "reason": reason, "message": message})
        return out

    def admit(self, pod: Obj) -> str | None:
        """Why a new pod may not start on this node now, or None (upstream's eviction admission):
        under memory pressure alone only BestEffort pods that don't tolerate the memory-pressure
        taint are refused; under disk or PID pressure every pod is; critical pods never are."""
        pressures = [kind for kind, on in self._pressure.items() if on]
        if not pressures or not evictable(pod):
            return None
        if pressures == ["MemoryPressure"] and (qos_class(pod) != "BestEffort" or _tolerates_memory_pressure(pod)):
            return None
        return f"The node had condition: [{' '.join(pressures)}]. "

    def hard_reservation(self, signal: str, capacity: int) -> int:
        """What allocatable leaves out for a hard threshold (upstream: memory and nodefs)."""
        return max((t.value(capacity) for t in self.thresholds if t.hard and t.signal == signal), default=0)

    # ------------------------------------------------------------------ the loop
    async def run(self) -> None:
        while True:
            try:
                await self.synchronize()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("eviction manager pass failed: %s", exc)
            await asyncio.sleep(self.interval)

    async def synchronize(self) -> Obj | None:
        """One pass; returns the pod evicted, if any."""
        observations = await asyncio.to_thread(self.observer)
        self.observations = observations
        now = time.monotonic()
        met = thresholds_met(self.thresholds, observations)
        if self._met:  # not resolved until the minimum reclaim is back too
            met += [t for t in thresholds_met(self._met, observations, enforce_min_reclaim=True) if t not in met]
        self._met = met
        self._first_observed = {t: self._first_observed.get(t, now) for t in met}
        for t in met:
            self._last_observed[CONDITION_OF[t.signal]] = now
        changed = []
        driven = {CONDITION_OF[t.signal] for t in met}
        for kind in self._pressure:
            last = self._last_observed.get(kind)
            pressure = kind in driven or (last is not None
                                          and now - last < self.config.eviction_pressure_transition_period)
            if pressure != self._pressure[kind]:
                self._pressure[kind] = pressure
                self._transitions[kind] = _now()
                changed.append((kind, pressure))
        if changed:
            self._record_node_events(changed)
            await self.conditions_changed()
        actionable = [t for t in met if now - self._first_observed[t] >= t.grace_period]
        active = [p for p in self.active_pods() if p["metadata"]["uid"] not in self.evicted]
        self.evicted &= {p["metadata"]["uid"] for p in self.active_pods()}
        if not actionable or not active:
            return None
        threshold = min(actionable, key=lambda t: (SIGNAL_ORDER.index(t.signal), not t.hard))
        resource = RESOURCE_OF[threshold.signal]
        usages = await self._usage(active)
        ranked_by = resource if resource in ("memory", "pids") else "ephemeral-storage"
        for usage in rank_pods(usages, ranked_by):
            if not evictable(usage.pod):
                continue
            message = eviction_message(threshold, observations[threshold.signal], usage)
            grace = HARD_EVICTION_GRACE
            if not threshold.hard:
                own = int((usage.pod.get("spec") or {}).get("terminationGracePeriodSeconds") or 30)
                grace = min(self.config.eviction_max_pod_grace_period, own) \
                    if self.config.eviction_max_pod_grace_period > 0 else own
            log.info("evicting pod %s/%s: %s", usage.pod["metadata"]["namespace"], usage.pod["metadata"]["name"],
                     message)
            self.evicted.add(usage.uid)
            await self.evict(usage.pod, grace, message)
            if self.recorder is not None:
                self.recorder.record(usage.pod, "Warning", "Evicted", message)
            return usage.pod
        log.info("%s threshold met but no pod on this node can be evicted", threshold.signal)
        return None

    def _record_node_events(self, changes: list[tuple[str, bool]]) -> None:
        if self.recorder is None:
            return
        node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": self.node_name, "uid": self.node_name}}
        for kind, pressure in changes:
            reason = NODE_EVENT[(kind, pressure)]
            self.recorder.record(node, "Normal", reason, f"Node {self.node_name} status is now: {reason}")

    async def _usage(self, pods: list[Obj]) -> list[PodUsage]:
        usages = {p["metadata"]["uid"]: PodUsage(p) for p in pods}
        try:
            stats = await self.cri.list_container_stats()
        except CRIError as exc:
            log.debug("container stats: %s", exc)
            stats = []
        for s in stats:
            attrs = s.attributes
            if attrs is None:
                continue
            usage = usages.get(attrs.labels.get(POD_UID, ""))
            if usage is None:
                continue
            name = attrs.labels.get(CONTAINER_NAME) or (attrs.metadata.name if attrs.metadata else "")
            memory = (s.memory.working_set_bytes or 0) if s.memory is not None else 0
            disk = (s.writable_layer.used_bytes or 0) if s.writable_layer is not None else 0
            if s.memory is not None and s.memory.working_set_bytes is not None:
                usage.memory = (usage.memory or 0) + memory
            usage.disk = (usage.disk or 0) + disk
            old = usage.containers.get(name, (0, 0))
            usage.containers[name] = (old[0] + memory, old[1] + disk)
        for usage in usages.values():
            meta = usage.pod["metadata"]
            logs = self.logs_root / f"{meta['namespace']}_{meta['name']}_{meta['uid']}"
            if logs.exists():
                usage.disk = (usage.disk or 0) + await asyncio.to_thread(_dir_size, logs)
        return list(usages.values())
