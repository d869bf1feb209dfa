"""Upstream's Priority admission plugin: pods get their priority from a PriorityClass.

On pod create the class the pod names (`spec.priorityClassName`) is looked up and its `value`
and `preemptionPolicy` are written into `spec.priority` and `spec.preemptionPolicy`. A pod that
names no class gets the `globalDefault` class (the lowest value if, after a race, there are
several), and its name; without one, priority 0 and PreemptLowerPriority. Refused with 403:

* a class that does not exist (`no PriorityClass with name X was found`);
* a pod that sets `spec.priority` or `spec.preemptionPolicy` itself to something other than
  what its class gives (a pod may restate the computed values, as upstream allows).

The two system classes are ordinary objects the API server creates at start (upstream's
`scheduling/bootstrap-system-priority-classes` hook), usable in every namespace as upstream's
default configuration allows. On PriorityClass create, a second `globalDefault` class is refused.
"""

from __future__ import annotations

from typing import Any

from kubeherd.api.resources import Resource
from kubeherd.apiserver.admission.base import CachedObjects, Obj, forbidden, is_pod

GROUP = "scheduling.k8s.io"
PLURAL = "priorityclasses"
DEFAULT_PREEMPTION_POLICY = "PreemptLowerPriority"
SYSTEM_CRITICAL_PRIORITY = 2_000_000_000

# (name, value, description) of the classes every cluster has
SYSTEM_PRIORITY_CLASSES = (
    ("system-node-critical", SYSTEM_CRITICAL_PRIORITY + 1000,
     "Used for system critical pods that must not be moved from their current node."),
    ("system-cluster-critical", SYSTEM_CRITICAL_PRIORITY,
     "Used for system critical pods that must run in the cluster, but can be moved to another node if "
     "necessary."),
)


def system_priority_classes() -> list[Obj]:
    """The built-in PriorityClass objects, as the API server creates them at start."""
    return [{"apiVersion": f"{GROUP}/v1", "kind": "PriorityClass", "metadata": {"name": name},
             "value": value, "description": description, "preemptionPolicy": DEFAULT_PREEMPTION_POLICY}
            for name, value, description in SYSTEM_PRIORITY_CLASSES]


def _is_priority_class(resource: Resource) -> bool:
    return resource.group == GROUP and resource.kind == "PriorityClass"


class PriorityAdmission:
    """Resolve pods' priority from their PriorityClass; keep `globalDefault` unique."""

    def __init__(self, objects: CachedObjects) -> None:
        self.objects = objects

    def _default_class(self) -> Obj | None:
        defaults = [pc for pc in self.objects.list(GROUP, PLURAL) if pc.get("globalDefault") is True]
        return min(defaults, key=lambda pc: int(pc.get("value") or 0), default=None)

    async def wait(self, resource: Resource, namespace: str, obj: Obj) -> None:
        """A class created just before the pod may not be in the cache yet: catch up first."""
        if is_pod(resource, obj):
            name = obj["spec"].get("priorityClassName")
            if isinstance(name, str) and name and self.objects.get(GROUP, PLURAL, name) is None:
                await self.objects.fresh()
        elif _is_priority_class(resource) and obj.get("globalDefault") is True:
            await self.objects.fresh()

    def admit(self, resource: Resource, namespace: str, obj: Obj) -> None:
        if _is_priority_class(resource):
            self._admit_class(resource, obj)
        elif is_pod(resource, obj):
            self._admit_pod(resource, obj)

    def _admit_pod(self, resource: Resource, pod: Obj) -> None:
        spec = pod["spec"]
        name = spec.get("priorityClassName")
        policy: Any
        if not name:
            default = self._default_class()
            if default is None:
                value, policy = 0, DEFAULT_PREEMPTION_POLICY
            else:
                spec["priorityClassName"] = default["metadata"]["name"]
                value, policy = default.get("value", 0), default.get("preemptionPolicy")
        elif not isinstance(name, str):
            return  # validation says what is wrong with it
        else:
            found = self.objects.get(GROUP, PLURAL, name)
            if found is None:
                raise forbidden(resource, pod, f"no PriorityClass with name {name} was found")
            value, policy = found.get("value", 0), found.get("preemptionPolicy")
        given = spec.get("priority")
        if given is not None and given != value:
            raise forbidden(resource, pod, f"the integer value of priority ({given}) must not be provided in pod "
                                           f"spec; priority admission controller computed {value} from the given "
                                           "PriorityClass name")
        spec["priority"] = value
        if policy:
            given = spec.get("preemptionPolicy")
            if given is not None and given != policy:
                raise forbidden(resource, pod, f"the string value of PreemptionPolicy ({given}) must not be provided "
                                               f"in pod spec; priority admission controller computed {policy} from "
                                               "the given PriorityClass name")
            spec["preemptionPolicy"] = policy

    def _admit_class(self, resource: Resource, pc: Obj) -> None:
        if pc.get("globalDefault") is not True:
            return
        default = self._default_class()
        if default is not None:
            raise forbidden(resource, pc, f"PriorityClass {default['metadata']['name']} is already marked as "
                                          "default. Only one default can exist")
