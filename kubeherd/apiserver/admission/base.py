"""What every admission plugin shares: the caller's identity, the plugin shape, the 403 it raises,
and the cache look-ups plugins decide from.

A plugin is a class with `wait` (awaited first, outside the write, to wait briefly for what
`admit` will look up) and `admit` (synchronous: the registry calls it inside the write, after
defaulting, to mutate the object or refuse it). Plugins read other objects from the watch cache,
as upstream's plugins read informer listers; `wait` is where a plugin that misses an object
waits for the cache to catch up with acknowledged writes, as upstream re-checks with a live GET.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from kubeherd.api import errors, validation
from kubeherd.api.resources import Catalog, Resource
from kubeherd.storage.cache import WatchCache

Obj = dict[str, Any]
# (plural, namespace, name) → the object from the server's cache, or None
Lookup = Callable[[str, str, str], Obj | None]
MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror"


@dataclass(frozen=True, slots=True)
class UserInfo:
    name: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: dict[str, list[str]] = field(default_factory=dict)


class AdmissionPlugin(Protocol):
    async def wait(self, resource: Resource, namespace: str, obj: Obj) -> None:
        """Wait (briefly) until what `admit` looks up is in the cache."""

    def admit(self, resource: Resource, namespace: str, obj: Obj) -> None:
        """Mutate `obj` or refuse it with an APIError; called for objects being created."""


def is_pod(resource: Resource, obj: Obj) -> bool:
    return not resource.group and resource.kind == "Pod" and isinstance(obj.get("spec"), dict)


def is_mirror_pod(obj: Obj) -> bool:
    meta = obj.get("metadata")
    annotations = meta.get("annotations") if isinstance(meta, dict) else None
    return isinstance(annotations, dict) and MIRROR_POD_ANNOTATION in annotations


def forbidden(resource: Resource, obj: Obj, reason: str) -> errors.APIError:
    """Upstream's admission.NewForbidden: `<resource> "<name>" is forbidden: <reason>`."""
    name = str((obj.get("metadata") or {}).get("name") or "")
    what = f'{resource.group_resource} "{name}"' if name else resource.group_resource
    details: dict[str, Any] = {"kind": resource.plural}
    if name:
        details["name"] = name
    if resource.group:
        details["group"] = resource.group
    return errors.APIError(403, "Forbidden", f"{what} is forbidden: {reason}", details)


class CachedObjects:
    """Read-only look-ups of cluster-scoped objects in the watch cache, by group and plural."""

    def __init__(self, cache: WatchCache, catalog: Catalog) -> None:
        self.cache = cache
        self.prefixes = {(r.group, r.plural): r.storage_prefix for r in catalog.stored()}

    def _prefix(self, group: str, plural: str) -> str:
        return self.prefixes[(group, plural)]

    def get(self, group: str, plural: str, name: str) -> Obj | None:
        prefix = self._prefix(group, plural)
        found = self.cache.resource(prefix).items.get(prefix + name)
        return found.obj if found is not None else None

    def list(self, group: str, plural: str) -> list[Obj]:
        return [c.obj for c in self.cache.resource(self._prefix(group, plural)).items.values()]

    async def fresh(self) -> None:
        await self.cache.wait_fresh()


def _raise(resource: Resource, obj: Obj, causes: list[validation.Cause]) -> None:
    if causes:
        name = str((obj.get("metadata") or {}).get("name") or "")
        raise errors.invalid(resource.group, resource.kind, name, [c.to_dict() for c in causes])


def validate_create(resource: Resource, obj: Obj) -> None:
    _raise(resource, obj, validation.validate(resource.group, resource.kind, obj, namespaced=resource.namespaced))


def validate_update(resource: Resource, new: Obj, old: Obj, subresource: str = "") -> None:
    """Full validation of the new object; a subresource write checks only what it may change."""
    if subresource == "ephemeralcontainers" and not resource.group and resource.kind == "Pod":
        causes = validation.validate_pod_ephemeral_containers_update(new, old)
    elif subresource:
        causes = validation.validate_object_meta_update(new.get("metadata"), old.get("metadata"))
    else:
        causes = validation.validate_update(resource.group, resource.kind, new, old, namespaced=resource.namespaced)
    _raise(resource, new, causes)
