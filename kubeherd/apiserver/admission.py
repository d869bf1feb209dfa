"""Admission: the checks every write passes before it reaches storage.

For now this is validation (object metadata and the kind's own rules, on create and on
update); mutating and validating admission plugins and webhooks hang off the same two calls.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kubeherd.api import errors, validation
from kubeherd.api.resources import Resource

Obj = dict[str, Any]


@dataclass(frozen=True, slots=True)
class UserInfo:
    name: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: dict[str, list[str]] = field(default_factory=dict)


def _raise(resource: Resource, obj: Obj, causes: list[validation.Cause]) -> None:
    if causes:
        name = str((obj.get("metadata") or {}).get("name") or "")
        raise errors.invalid(resource.group, resource.kind, name, [c.to_dict() for c in causes])


def validate_create(resource: Resource, obj: Obj) -> None:
    _raise(resource, obj, validation.validate(resource.group, resource.kind, obj, namespaced=resource.namespaced))


def validate_update(resource: Resource, new: Obj, old: Obj, subresource: str = "") -> None:
    """Full validation of the new object; a status write checks only what it may change."""
    if subresource:
        causes = validation.validate_object_meta_update(new.get("metadata"), old.get("metadata"))
    else:
        causes = validation.validate_update(resource.group, resource.kind, new, old, namespaced=resource.namespaced)
    _raise(resource, new, causes)
