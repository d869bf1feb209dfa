"""Small value types every part of the scheduler shares: statuses, resource vectors, taints, ports.

They are deliberately plain: a scheduling cycle evaluates thousands of (pod, node) pairs, so the
hot values are ints in slotted objects, quantities are parsed once (and memoised, since the same
strings recur across thousands of pods), and a `None` status means success so the common path
allocates nothing.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubeherd.api.quantity import QuantityError, parse_quantity

Obj = dict[str, Any]

# Scores are integers in [0, MAX_NODE_SCORE] after normalization, then multiplied by the weight.
MAX_NODE_SCORE = 100
# What a container without a cpu/memory request counts as when nodes are *scored* (never when
# they are filtered): 0.1 core and 200 MB, as upstream, so best-effort pods still spread.
DEFAULT_MILLI_CPU_REQUEST = 100
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024

CPU = "cpu"
MEMORY = "memory"
EPHEMERAL_STORAGE = "ephemeral-storage"
PODS = "pods"

LABEL_HOSTNAME = "kubernetes.io/hostname"
LABEL_ZONE = "topology.kubernetes.io/zone"
LABEL_REGION = "topology.kubernetes.io/region"

TAINT_NODE_UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
NO_SCHEDULE = "NoSchedule"
PREFER_NO_SCHEDULE = "PreferNoSchedule"
NO_EXECUTE = "NoExecute"


class Code(enum.IntEnum):
    """What an extension point answered (upstream's framework.Code)."""

    SUCCESS = 0
    ERROR = 1
    # Rejected here, but preempting pods on the node might help.
    UNSCHEDULABLE = 2
    # Rejected here, and no preemption on this node can change that.
    UNSCHEDULABLE_AND_UNRESOLVABLE = 3
    WAIT = 4
    SKIP = 5
    PENDING = 6


class Status:
    """A non-success answer from a plugin; `None` stands for success everywhere."""

    __slots__ = ("code", "plugin", "reasons")

    def __init__(self, code: Code, *reasons: str, plugin: str = "") -> None:
        self.code = code
        self.reasons: tuple[str, ...] = reasons
        self.plugin = plugin

    def is_rejected(self) -> bool:
        return self.code in (Code.UNSCHEDULABLE, Code.UNSCHEDULABLE_AND_UNRESOLVABLE, Code.PENDING)

    def is_success(self) -> bool:
        return self.code == Code.SUCCESS

    def message(self) -> str:
        return ", ".join(self.reasons)

    def with_plugin(self, plugin: str) -> Status:
        if not self.plugin:
            self.plugin = plugin
        return self

    def __repr__(self) -> str:
        return f"Status({self.code.name}, {self.message()!r}, plugin={self.plugin!r})"


def is_success(status: Status | None) -> bool:
    return status is None or status.code == Code.SUCCESS


# ------------------------------------------------------------------------------ resources
def is_scalar_resource(name: str) -> bool:
    """Extended (`example.com/gpu`), hugepages and attachable-volume resources: counted by value."""
    if name.startswith(("hugepages-", "attachable-volumes-")):
        return True
    return "/" in name and not name.startswith("requests.")


@functools.lru_cache(maxsize=8192)
def amount(name: str, text: str) -> int:
    """A quantity in the unit the scheduler counts it in: millicores for cpu, whole units otherwise."""
    try:
        q = parse_quantity(str(text))
    except QuantityError:
        return 0
    return q.milli_value() if name == CPU else q.value()


@dataclass(slots=True)
class Resource:
    """A resource vector: cpu in millicores, memory/ephemeral-storage in bytes, pods, scalars."""

    milli_cpu: int = 0
    memory: int = 0
    ephemeral_storage: int = 0
    allowed_pods: int = 0
    scalar: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_list(cls, rl: Mapping[str, Any] | None) -> Resource:
        r = cls()
        r.add_list(rl)
        return r

    def add_list(self, rl: Mapping[str, Any] | None) -> None:
        for name, text in (rl or {}).items():
            value = amount(name, text)
            if name == CPU:
                self.milli_cpu += value
            elif name == MEMORY:
                self.memory += value
            elif name == EPHEMERAL_STORAGE:
                self.ephemeral_storage += value
            elif name == PODS:
                self.allowed_pods += value
            elif is_scalar_resource(name):
                self.scalar[name] = self.scalar.get(name, 0) + value

    def add(self, other: Resource) -> None:
        self.milli_cpu += other.milli_cpu
        self.memory += other.memory
        self.ephemeral_storage += other.ephemeral_storage
        self.allowed_pods += other.allowed_pods
        for name, value in other.scalar.items():
            self.scalar[name] = self.scalar.get(name, 0) + value

    def sub(self, other: Resource) -> None:
        self.milli_cpu -= other.milli_cpu
        self.memory -= other.memory
        self.ephemeral_storage -= other.ephemeral_storage
        self.allowed_pods -= other.allowed_pods
        for name, value in other.scalar.items():
            left = self.scalar.get(name, 0) - value
            if left:
                self.scalar[name] = left
            else:
                self.scalar.pop(name, None)

    def set_max(self, other: Resource) -> None:
        self.milli_cpu = max(self.milli_cpu, other.milli_cpu)
        self.memory = max(self.memory, other.memory)
        self.ephemeral_storage = max(self.ephemeral_storage, other.ephemeral_storage)
        for name, value in other.scalar.items():
            self.scalar[name] = max(self.scalar.get(name, 0), value)

    def copy(self) -> Resource:
        return Resource(self.milli_cpu, self.memory, self.ephemeral_storage, self.allowed_pods, dict(self.scalar))

    def is_zero(self) -> bool:
        return not (self.milli_cpu or self.memory or self.ephemeral_storage or any(self.scalar.values()))

    def get(self, name: str) -> int:
        if name == CPU:
            return self.milli_cpu
        if name == MEMORY:
            return self.memory
        if name == EPHEMERAL_STORAGE:
            return self.ephemeral_storage
        if name == PODS:
            return self.allowed_pods
        return self.scalar.get(name, 0)


# ------------------------------------------------------------------------------ taints and tolerations
@dataclass(frozen=True, slots=True)
class Taint:
    key: str
    value: str
    effect: str

    @classmethod
    def parse(cls, obj: Mapping[str, Any]) -> Taint:
        return cls(str(obj.get("key") or ""), str(obj.get("value") or ""), str(obj.get("effect") or ""))


@dataclass(frozen=True, slots=True)
class Toleration:
    key: str = ""
    operator: str = "Equal"
    value: str = ""
    effect: str = ""

    @classmethod
    def parse(cls, obj: Mapping[str, Any]) -> Toleration:
        return cls(str(obj.get("key") or ""), str(obj.get("operator") or "Equal"), str(obj.get("value") or ""),
                   str(obj.get("effect") or ""))

    def tolerates(self, taint: Taint) -> bool:
        """Upstream's ToleratesTaint: an empty effect matches every effect, an empty key with
        Exists matches every key, and Equal compares values."""
        if self.effect and self.effect != taint.effect:
            return False
        if self.key and self.key != taint.key:
            return False
        if self.operator == "Exists":
            return True
        if self.operator in ("Equal", ""):
            return self.value == taint.value
        return False


def tolerates(tolerations: Iterable[Toleration], taint: Taint) -> bool:
    return any(t.tolerates(taint) for t in tolerations)


def find_untolerated_taint(taints: Iterable[Taint], tolerations: tuple[Toleration, ...],
                           effects: tuple[str, ...] = (NO_SCHEDULE, NO_EXECUTE)) -> Taint | None:
    """The first taint with one of `effects` that no toleration tolerates."""
    for taint in taints:
        if taint.effect in effects and not tolerates(tolerations, taint):
            return taint
    return None


# ------------------------------------------------------------------------------ host ports
DEFAULT_BIND_ALL = "0.0.0.0"


@dataclass(frozen=True, slots=True)
class HostPort:
    ip: str
    protocol: str
    port: int

    @classmethod
    def of(cls, ip: str | None, protocol: str | None, port: int) -> HostPort:
        return cls(ip or DEFAULT_BIND_ALL, protocol or "TCP", port)


class HostPortInfo:
    """Host ports in use on a node, by IP; `0.0.0.0` conflicts with every IP and vice versa."""

    __slots__ = ("by_ip",)

    def __init__(self) -> None:
        self.by_ip: dict[str, dict[tuple[str, int], int]] = {}

    def add(self, hp: HostPort) -> None:
        ports = self.by_ip.setdefault(hp.ip, {})
        key = (hp.protocol, hp.port)
        ports[key] = ports.get(key, 0) + 1

    def remove(self, hp: HostPort) -> None:
        ports = self.by_ip.get(hp.ip)
        if not ports:
            return
        key = (hp.protocol, hp.port)
        left = ports.get(key, 0) - 1
        if left > 0:
            ports[key] = left
        else:
            ports.pop(key, None)
            if not ports:
                del self.by_ip[hp.ip]

    def conflicts(self, hp: HostPort) -> bool:
        if hp.port <= 0:
            return False
        key = (hp.protocol, hp.port)
        if hp.ip == DEFAULT_BIND_ALL:
            return any(key in ports for ports in self.by_ip.values())
        return key in self.by_ip.get(hp.ip, ()) or key in self.by_ip.get(DEFAULT_BIND_ALL, ())

    def copy(self) -> HostPortInfo:
        other = HostPortInfo()
        other.by_ip = {ip: dict(ports) for ip, ports in self.by_ip.items()}
        return other

    def __len__(self) -> int:
        return sum(len(p) for p in self.by_ip.values())
