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


def _raise(resource: Resource, obj: Obj, causes: list[Any]) -> None:
    if causes:
        rendered = [validation.cause_dict(c) for c in causes]
        name = str((obj.get("metadata") or {}).get("name") or "")
        raise errors.invalid(resource.group, resource.kind, name, rendered)


def validate_create(resource: Resource, obj: Obj) -> None:
    meta = obj.get("metadata") or {}
    causes = list(validation.validate_object_meta(
        meta, resource.namespaced, validation.name_rule(resource.group, resource.kind), True))
    causes += validation.validate(resource.group, resource.kind, obj)
    _raise(resource, obj, causes)


def validate_update(resource: Resource, new: Obj, old: Obj, subresource: str = "") -> None:
    causes = list(validation.validate_object_meta_update(new.get("metadata") or {}, old.get("metadata") or {}))
    if not subresource:
        causes += validation.validate_object_meta(
            new.get("metadata") or {}, resource.namespaced, validation.name_rule(resource.group, resource.kind),
            False)
        causes += validation.validate(resource.group, resource.kind, new)
        causes += validation.validate_update(resource.group, resource.kind, new, old)
    _raise(resource, new, causes)
