"""Upstream's RuntimeClass admission plugin, for pods being created.

A pod naming a RuntimeClass (`spec.runtimeClassName`) that does not exist is refused (403
`pod rejected: RuntimeClass "x" not found`). From the class the pod gets:

* `overhead.podFixed` as `spec.overhead`; a pod that brings a different overhead of its own is
  refused, and so is a pod with an overhead but no class that defines one (only this plugin may
  set the field);
* `scheduling.nodeSelector` merged into `spec.nodeSelector` (a pod that asks for another value
  of the same label is refused) and `scheduling.tolerations` merged into `spec.tolerations`,
  keeping a toleration only when no other one already covers it, as upstream's
  MergeTolerations.
"""

from __future__ import annotations

from typing import Any

from kubeherd.api.resources import Resource
from kubeherd.api.validation.pods import semantic_equal
from kubeherd.apiserver.admission.base import CachedObjects, Obj, forbidden, is_pod

GROUP = "node.k8s.io"
PLURAL = "runtimeclasses"


def _covers(wide: Any, narrow: Any) -> bool:
    """Whether toleration `wide` tolerates everything `narrow` does (upstream's isSuperset)."""
    if not isinstance(wide, dict) or not isinstance(narrow, dict):
        return wide == narrow
    if semantic_equal(wide, narrow):
        return True
    if narrow.get("key", "") != wide.get("key", "") and wide.get("key", ""):
        return False
    if narrow.get("effect", "") != wide.get("effect", "") and wide.get("effect", ""):
        return False
    if wide.get("effect") == "NoExecute" and wide.get("tolerationSeconds") is not None:
        narrow_seconds = narrow.get("tolerationSeconds")
        if narrow_seconds is None or narrow_seconds > wide["tolerationSeconds"]:
            return False
    operator = wide.get("operator", "") or "Equal"
    if operator == "Equal":
        return (narrow.get("operator", "") or "Equal") == "Equal" and narrow.get("value", "") == wide.get("value", "")
    return operator == "Exists"


def merge_tolerations(first: list[Any], second: list[Any]) -> list[Any]:
    """Both lists, without the tolerations another one covers (the first of equal ones stays)."""
    every = [*first, *second]
    merged: list[Any] = []
    for i, toleration in enumerate(every):
        if any(_covers(kept, toleration) for kept in merged):
            continue
        if any(not semantic_equal(toleration, later) and _covers(later, toleration) for later in every[i + 1:]):
            continue
        merged.append(toleration)
    return merged


class RuntimeClassAdmission:
    """Check a pod's RuntimeClass exists and apply its overhead and scheduling constraints."""

    def __init__(self, objects: CachedObjects) -> None:
        self.objects = objects

    async def wait(self, resource: Resource, namespace: str, obj: Obj) -> None:
        """A class created just before the pod may not be in the cache yet: catch up first."""
        if is_pod(resource, obj):
            name = obj["spec"].get("runtimeClassName")
            if isinstance(name, str) and name and self.objects.get(GROUP, PLURAL, name) is None:
                await self.objects.fresh()

    def admit(self, resource: Resource, namespace: str, obj: Obj) -> None:
        if not is_pod(resource, obj):
            return
        spec = obj["spec"]
        name = spec.get("runtimeClassName")
        runtime_class: Obj | None = None
        if isinstance(name, str) and name:
            runtime_class = self.objects.get(GROUP, PLURAL, name)
            if runtime_class is None:
                raise forbidden(resource, obj, f'pod rejected: RuntimeClass "{name}" not found')
        overhead = ((runtime_class or {}).get("overhead") or {}).get("podFixed")
        if overhead:
            if spec.get("overhead") is not None and not semantic_equal({"overhead": spec["overhead"]},
                                                                       {"overhead": overhead}):
                raise forbidden(resource, obj, "pod rejected: Pod's Overhead doesn't match RuntimeClass's defined "
                                               "Overhead")
            spec["overhead"] = dict(overhead)
        elif spec.get("overhead") is not None:
            raise forbidden(resource, obj, "pod rejected: Pod Overhead set without corresponding RuntimeClass "
                                           "defined Overhead")
        scheduling = (runtime_class or {}).get("scheduling")
        if isinstance(scheduling, dict):
            self._schedule(resource, obj, scheduling)

    @staticmethod
    def _schedule(resource: Resource, pod: Obj, scheduling: Obj) -> None:
        spec = pod["spec"]
        selector = scheduling.get("nodeSelector") or {}
        current = spec.get("nodeSelector")
        if selector and isinstance(current, dict) and current:
            for key, value in selector.items():
                if key in current and current[key] != value:
                    raise forbidden(resource, pod, f"conflict: runtimeClass.scheduling.nodeSelector[{key}] = {value}; "
                                                   f"pod.spec.nodeSelector[{key}] = {current[key]}")
            spec["nodeSelector"] = {**current, **selector}
        elif selector:
            spec["nodeSelector"] = dict(selector)
        tolerations = scheduling.get("tolerations") or []
        if tolerations and isinstance(spec.get("tolerations") or [], list):
            spec["tolerations"] = merge_tolerations(list(spec.get("tolerations") or []), list(tolerations))
