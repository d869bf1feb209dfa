"""What plugins may look up besides pods and nodes: read-only views of other API objects.

In the running scheduler these are informer caches (see `server.py`); in unit tests and the
benchmark they are plain dicts (`StaticListers`). Plugins only ever see this small interface.

Pod priority is resolved here too: upstream's Priority admission plugin stamps `spec.priority`
from the PriorityClass a pod names when the pod is created. This project's API server does not do
that yet (its strategies cannot read other objects), so the scheduler resolves the class itself:
the named class's value (or the built-in system classes), else `spec.priority`, else the value
of a `globalDefault` class.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from kubeherd.scheduler.types import Obj

# The classes every cluster has (upstream's SystemPriorityClasses).
SYSTEM_PRIORITY_CLASSES = {"system-cluster-critical": 2000000000, "system-node-critical": 2000001000}


class Listers(Protocol):
    def services(self, namespace: str) -> list[Obj]: ...
    def replication_controller(self, namespace: str, name: str) -> Obj | None: ...
    def replica_set(self, namespace: str, name: str) -> Obj | None: ...
    def stateful_set(self, namespace: str, name: str) -> Obj | None: ...
    def namespace_labels(self, namespace: str) -> Mapping[str, str] | None: ...
    def pvc(self, namespace: str, name: str) -> Obj | None: ...
    def pv(self, name: str) -> Obj | None: ...
    def pvs(self) -> list[Obj]: ...
    def storage_class(self, name: str) -> Obj | None: ...
    def priority_class(self, name: str) -> Obj | None: ...
    def priority_classes(self) -> list[Obj]: ...
    def pdbs(self) -> list[Obj]: ...


def _key(namespace: str, name: str) -> str:
    return f"{namespace}/{name}"


@dataclass
class StaticListers:
    """Listers over plain collections (tests, benchmarks, what-if tools)."""

    service_list: list[Obj] = field(default_factory=list)
    controllers: dict[str, Obj] = field(default_factory=dict)  # "Kind/ns/name" -> object
    namespaces: dict[str, Mapping[str, str]] = field(default_factory=dict)
    claims: dict[str, Obj] = field(default_factory=dict)  # "ns/name"
    volumes: dict[str, Obj] = field(default_factory=dict)
    classes: dict[str, Obj] = field(default_factory=dict)
    priority: dict[str, Obj] = field(default_factory=dict)
    budgets: list[Obj] = field(default_factory=list)

    def add(self, obj: Obj) -> None:
        """File any object under the lookup its kind belongs to."""
        kind = obj.get("kind", "")
        meta = obj.get("metadata") or {}
        ns, name = meta.get("namespace", ""), meta.get("name", "")
        if kind == "Service":
            self.service_list.append(obj)
        elif kind in ("ReplicaSet", "ReplicationController", "StatefulSet"):
            self.controllers[f"{kind}/{ns}/{name}"] = obj
        elif kind == "Namespace":
            self.namespaces[name] = meta.get("labels") or {}
        elif kind == "PersistentVolumeClaim":
            self.claims[_key(ns, name)] = obj
        elif kind == "PersistentVolume":
            self.volumes[name] = obj
        elif kind == "StorageClass":
            self.classes[name] = obj
        elif kind == "PriorityClass":
            self.priority[name] = obj
        elif kind == "PodDisruptionBudget":
            self.budgets.append(obj)
        else:
            raise ValueError(f"StaticListers has no place for {kind}")

    def services(self, namespace: str) -> list[Obj]:
        return [s for s in self.service_list if (s.get("metadata") or {}).get("namespace") == namespace]

    def replication_controller(self, namespace: str, name: str) -> Obj | None:
        return self.controllers.get(f"ReplicationController/{namespace}/{name}")

    def replica_set(self, namespace: str, name: str) -> Obj | None:
        return self.controllers.get(f"ReplicaSet/{namespace}/{name}")

    def stateful_set(self, namespace: str, name: str) -> Obj | None:
        return self.controllers.get(f"StatefulSet/{namespace}/{name}")

    def namespace_labels(self, namespace: str) -> Mapping[str, str] | None:
        return self.namespaces.get(namespace, {"kubernetes.io/metadata.name": namespace})

    def pvc(self, namespace: str, name: str) -> Obj | None:
        return self.claims.get(_key(namespace, name))

    def pv(self, name: str) -> Obj | None:
        return self.volumes.get(name)

    def pvs(self) -> list[Obj]:
        return list(self.volumes.values())

    def storage_class(self, name: str) -> Obj | None:
        return self.classes.get(name)

    def priority_class(self, name: str) -> Obj | None:
        return self.priority.get(name)

    def priority_classes(self) -> list[Obj]:
        return list(self.priority.values())

    def pdbs(self) -> list[Obj]:
        return list(self.budgets)


class PriorityResolver:
    """Resolves a pod's effective (priority, preemptionPolicy) from the PriorityClasses."""

    def __init__(self, listers: Listers) -> None:
        self.listers = listers

    def __call__(self, pod: Obj) -> tuple[int, str]:
        spec = pod.get("spec") or {}
        policy = str(spec.get("preemptionPolicy") or "PreemptLowerPriority")
        name = spec.get("priorityClassName")
        if name:
            pc = self.listers.priority_class(str(name))
            if pc is not None:
                return int(pc.get("value") or 0), str(pc.get("preemptionPolicy") or policy)
            if name in SYSTEM_PRIORITY_CLASSES:
                return SYSTEM_PRIORITY_CLASSES[str(name)], policy
        priority = spec.get("priority")
        if isinstance(priority, int) and priority != 0:
            return priority, policy
        if not name:
            for pc in self.listers.priority_classes():
                if pc.get("globalDefault"):
                    return int(pc.get("value") or 0), str(pc.get("preemptionPolicy") or policy)
        return (priority if isinstance(priority, int) else 0), policy
