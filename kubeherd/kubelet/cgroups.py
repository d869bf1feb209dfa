"""Pod-level and QoS cgroups on cgroup v1 with the cgroupfs driver, as upstream's container manager.

Layout (under every mounted v1 hierarchy, ``/sys/fs/cgroup/<subsystem>/``)::

    kubepods/                      node allocatable: cpu.shares = cores x 1024
    kubepods/pod<uid>/             Guaranteed pods
    kubepods/burstable/            cpu.shares = the burstable pods' cpu requests (min 2)
    kubepods/burstable/pod<uid>/
    kubepods/besteffort/           cpu.shares = 2
    kubepods/besteffort/pod<uid>/

The pod worker creates a pod's cgroup (with its limits) before ``RunPodSandbox``; the sandbox's
``cgroup_parent`` points there and runc puts every container of the pod below it. The limits are
upstream's ``ResourceConfigForPod``: cpu.shares from the pod's cpu request (2 for BestEffort), a
CFS quota from the pod's cpu limit only when every container declares one, a memory limit only
when every container declares one, where "the pod's" request or limit is the larger of what its
long-running containers need together and what any init container needs beside the sidecars
started before it. The cgroup goes when the pod is torn down (housekeeping retries a removal
that found it still busy).

Which pod cgroups this node made is also recorded as one empty file per pod uid under the
agent's state dir, so ``kubeherd killall`` finds and removes them even when the runtime no
longer knows the pods. The shared QoS parents are left in place, as upstream leaves them.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubeherd.api.quantity import Quantity

log = logging.getLogger(__name__)
Obj = dict[str, Any]

CGROUP_ROOT = Path("/sys/fs/cgroup")
KUBEPODS = "kubepods"
QOS_PARENTS = (KUBEPODS, f"{KUBEPODS}/burstable", f"{KUBEPODS}/besteffort")
MIN_SHARES = 2
MAX_SHARES = 262_144
SHARES_PER_CPU = 1024
QUOTA_PERIOD = 100_000  # µs
MIN_QUOTA = 1000
# v1 hierarchies runc joins for a container; the kubelet makes the pod level in each that is mounted
SUBSYSTEMS = ("cpu", "cpuacct", "cpuset", "memory", "pids", "blkio", "devices", "freezer", "hugetlb",
              "net_cls", "net_prio", "perf_event", "systemd")


def is_sidecar(container: Obj) -> bool:
    """An init container with ``restartPolicy: Always`` (upstream's restartable init container)."""
    return container.get("restartPolicy") == "Always"


def _amount(container: Obj, kind: str, resource: str) -> int | None:
    """A container's cpu (millicores) or memory (bytes) request or limit; requests default to limits."""
    res = container.get("resources") or {}
    value = (res.get(kind) or {}).get(resource)
    if value is None and kind == "requests":
        value = (res.get("limits") or {}).get(resource)
    if value is None:
        return None
    q = Quantity.parse(str(value))
    return q.milli_value() if resource == "cpu" else q.value()


def pod_total(pod: Obj, kind: str, resource: str) -> int:
    """The pod's effective request or limit (``kind``) of ``resource``: the larger of the
    app containers plus every sidecar, and each init container plus the sidecars before it."""
    spec = pod.get("spec") or {}
    total = sum(_amount(c, kind, resource) or 0 for c in spec.get("containers") or [])
    sidecars = 0
    init_peak = 0
    for c in spec.get("initContainers") or []:
        amount = _amount(c, kind, resource) or 0
        if is_sidecar(c):
            sidecars += amount
            total += amount
            init_peak = max(init_peak, sidecars)
        else:
            init_peak = max(init_peak, amount + sidecars)
    return max(total, init_peak)


def milli_cpu_to_shares(milli: int) -> int:
    if milli == 0:
        return MIN_SHARES
    return min(MAX_SHARES, max(MIN_SHARES, milli * SHARES_PER_CPU // 1000))


def milli_cpu_to_quota(milli: int, period: int = QUOTA_PERIOD) -> int:
    if milli == 0:
        return 0
    return max(MIN_QUOTA, milli * period // 1000)


@dataclass(frozen=True)
class ResourceConfig:
    """What a cgroup is limited to; ``None`` leaves the kernel's default (unlimited)."""

    cpu_shares: int | None = None
    cpu_quota: int | None = None
    cpu_period: int | None = None
    memory_limit: int | None = None


def resource_config_for_pod(pod: Obj, qos: str) -> ResourceConfig:
    if qos == "BestEffort":
        return ResourceConfig(cpu_shares=MIN_SHARES)
    spec = pod.get("spec") or {}
    long_running = (spec.get("containers") or []) + [c for c in spec.get("initContainers") or [] if is_sidecar(c)]
    shares = milli_cpu_to_shares(pod_total(pod, "requests", "cpu"))
    cpu_declared = all(_amount(c, "limits", "cpu") for c in long_running)
    memory_declared = all(_amount(c, "limits", "memory") for c in long_running)
    quota = milli_cpu_to_quota(pod_total(pod, "limits", "cpu"))
    memory = pod_total(pod, "limits", "memory")
    if qos == "Guaranteed":
        return ResourceConfig(cpu_shares=shares, cpu_quota=quota or -1, cpu_period=QUOTA_PERIOD,
                              memory_limit=memory or None)
    return ResourceConfig(cpu_shares=shares,
                          cpu_quota=(quota or -1) if cpu_declared else None,
                          cpu_period=QUOTA_PERIOD if cpu_declared else None,
                          memory_limit=memory if memory_declared and memory else None)


def pod_cgroup_name(uid: str, qos: str) -> str:
    """The pod's cgroup path relative to each hierarchy's root (the sandbox's ``cgroup_parent``)."""
    if qos == "Guaranteed":
        return f"{KUBEPODS}/pod{uid}"
    return f"{KUBEPODS}/{qos.lower()}/pod{uid}"


def _write(path: Path, value: str) -> None:
    try:
        if path.read_text().strip() == value:
            return
    except OSError:
        return  # this kernel does not offer the knob
    path.write_text(value)


class PodCgroupManager:
    """Creates, limits and removes the pod and QoS cgroups of this node (blocking: call from a thread)."""

    def __init__(self, state_dir: Path, root: Path = CGROUP_ROOT) -> None:
        self.state_dir = state_dir
        self.root = root
        self._applied: dict[str, ResourceConfig] = {}

    def hierarchies(self, *, unified: bool = False) -> list[Path]:
        """The mounted v1 hierarchies, one path per distinct mount (``cpu`` and ``cpuacct`` may share one);
        with ``unified`` also the v2 hierarchy of a hybrid host, where runc mirrors the pod level."""
        seen: set[str] = set()
        out = []
        for name in SUBSYSTEMS + (("unified",) if unified else ()):
            path = self.root / name
            if not path.is_dir() or not (path / "cgroup.procs").exists():
                continue
            real = os.path.realpath(path)
            if real not in seen:
                seen.add(real)
                out.append(path)
        return out

    @property
    def available(self) -> bool:
        return bool(self.hierarchies())

    def _make(self, relative: str) -> None:
        for hierarchy in self.hierarchies():
            path = hierarchy / relative
            if path.is_dir():
                continue
            path.mkdir(parents=True, exist_ok=True)
            if hierarchy.name == "cpuset":  # a cpuset cgroup takes no task until it has cpus and mems
                for part in [*list(Path(relative).parents)[::-1][1:], Path(relative)]:
                    for knob in ("cpuset.cpus", "cpuset.mems"):
                        here, parent = hierarchy / part / knob, hierarchy / part.parent / knob
                        with contextlib.suppress(OSError):
                            if not here.read_text().strip():
                                here.write_text(parent.read_text().strip())

    def _apply(self, relative: str, config: ResourceConfig) -> None:
        cpu = self.root / "cpu" / relative
        if config.cpu_shares is not None:
            _write(cpu / "cpu.shares", str(config.cpu_shares))
        if config.cpu_period is not None:
            _write(cpu / "cpu.cfs_period_us", str(config.cpu_period))
        _write(cpu / "cpu.cfs_quota_us", str(config.cpu_quota if config.cpu_quota is not None else -1))
        memory = self.root / "memory" / relative
        if config.memory_limit is not None:
            _write(memory / "memory.limit_in_bytes", str(config.memory_limit))

    def ensure_qos(self, cpus: int) -> None:
        """The node-level ``kubepods`` and the burstable/besteffort parents."""
        for parent in QOS_PARENTS:
            self._make(parent)
        _write(self.root / "cpu" / KUBEPODS / "cpu.shares", str(milli_cpu_to_shares(cpus * 1000)))
        _write(self.root / "cpu" / KUBEPODS / "besteffort" / "cpu.shares", str(MIN_SHARES))

    def update_qos(self, pods: Iterable[tuple[Obj, str]]) -> None:
        """Burstable's cpu.shares follow the cpu requests of the burstable pods (``(pod, qos)`` pairs)."""
        milli = sum(pod_total(pod, "requests", "cpu") for pod, qos in pods if qos == "Burstable")
        _write(self.root / "cpu" / KUBEPODS / "burstable" / "cpu.shares", str(milli_cpu_to_shares(milli)))

    def ensure_pod(self, pod: Obj, qos: str) -> None:
        """The pod's cgroup in every hierarchy, limited as upstream; idempotent and cheap when done."""
        uid = pod["metadata"]["uid"]
        relative = pod_cgroup_name(uid, qos)
        config = resource_config_for_pod(pod, qos)
        if self._applied.get(relative) == config and (self.root / "memory" / relative).is_dir():
            return
        self.state_dir.mkdir(parents=True, exist_ok=True)
        (self.state_dir / uid).touch()
        self._make(relative)
        self._apply(relative, config)
        self._applied[relative] = config

    def remove_pod(self, uid: str) -> bool:
        """Remove the pod's cgroups (empty ones only: runc removes the containers' first).
        Returns whether nothing of the pod is left."""
        left = False
        for hierarchy in self.hierarchies(unified=True):
            for parent in QOS_PARENTS:
                top = hierarchy / parent / f"pod{uid}"
                if not top.is_dir():
                    continue
                for dirpath, _, _ in sorted(os.walk(top), key=lambda w: w[0].count("/"), reverse=True):
                    try:
                        os.rmdir(dirpath)
                    except OSError as exc:
                        log.debug("cgroup %s not removed yet: %s", dirpath, exc)
                left |= top.exists()
        for parent in QOS_PARENTS:
            self._applied.pop(f"{parent}/pod{uid}", None)
        if not left:
            with contextlib.suppress(FileNotFoundError):
                (self.state_dir / uid).unlink()
        return not left

    def recorded(self) -> set[str]:
        """Uids of the pods whose cgroups this node made and has not removed yet."""
        return {p.name for p in self.state_dir.iterdir()} if self.state_dir.is_dir() else set()


def recorded_pod_uids(agent_dir: Path) -> set[str]:
    """The pod uids recorded by the node whose agent dir is ``agent_dir`` (for ``killall``)."""
    return PodCgroupManager(agent_dir / "pod-cgroups").recorded()


def machine_memory() -> int:
    """The node's memory in bytes (``MemTotal``), 0 when unknown."""
    with contextlib.suppress(OSError, ValueError), open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 0
