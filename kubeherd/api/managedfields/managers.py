"""managedFields entries and the structured update and apply of upstream's `merge.Updater`.

An object's `metadata.managedFields` is a list of entries, one per (manager, operation,
apiVersion, subresource), apiVersion left out of the identity of Apply entries so that an applier
keeps one entry across versions. `Managed` is that list decoded: a `VersionedSet` per
`ManagerKey` plus the entry times. Decoding stored entries trusts them and keeps their `fieldsV1`
dicts as they are; entries sent by a client are checked and put in canonical order
(`trusted=False`). Encoding sorts the list as upstream does (Apply before Update, then by time,
manager, apiVersion, subresource); the sets are already in order.

`update` and `apply` are the two structured operations:

* **update** (create, update, patch, as operation Update): the writer becomes the owner of every
  field it added or changed, taking it from whoever owned it (an update never conflicts), and
  nobody owns a field that was removed;
* **apply**: the configuration is merged into the live object; the applier owns exactly the fields
  of its configuration; a field it applied last time and left out now is removed from the object
  unless another manager owns it; changing a field another manager owns is a conflict unless
  forced, and forcing takes the field from that manager.

Both take `ignored`: fields the write path resets (a main resource's `status`, for instance) that
no manager may claim through it. Objects here never carry `metadata.managedFields` (the caller
strips it), and there is one version per kind, so upstream's conversions between versions have
no counterpart.
"""

from __future__ import annotations

import datetime
import functools
from dataclasses import dataclass, field
from typing import Any

import orjson

from kubeherd.api.managedfields import typed
from kubeherd.api.managedfields.fieldpath import (
    FieldSet,
    FieldsV1Error,
    canonical,
    difference,
    from_fields_v1,
    intersection,
    path_string,
    paths,
    recursive_difference,
    union,
)

__all__ = [
    "APPLY",
    "UPDATE",
    "Conflict",
    "Conflicts",
    "DecodeError",
    "Managed",
    "ManagerKey",
    "VersionedSet",
    "apply",
    "decode",
    "encode",
    "entry_seconds",
    "update",
]

APPLY = "Apply"
UPDATE = "Update"


class DecodeError(ValueError):
    """managedFields that cannot be read (upstream then falls back to the live object's)."""


@dataclass(frozen=True, slots=True)
class ManagerKey:
    """The identity of one entry: what upstream's manager identifier JSON holds."""

    manager: str
    operation: str
    api_version: str  # "" for Apply entries
    subresource: str = ""

    def identifier(self) -> str:
        """Upstream's identifier string (the JSON of the entry without time and fields)."""
        parts = {}
        if self.manager:
            parts["manager"] = self.manager
        if self.operation:
            parts["operation"] = self.operation
        if self.api_version:
            parts["apiVersion"] = self.api_version
        if self.subresource:
            parts["subresource"] = self.subresource
        return orjson.dumps(parts).decode()

    def printed(self) -> str:
        """How a conflict message names the manager: `"m"`, `"m" using apps/v1`."""
        out = orjson.dumps(self.manager).decode()
        if self.subresource:
            out += f' with subresource "{self.subresource}"'
        if self.operation == UPDATE:
            out += f" using {self.api_version}"
        return out


@dataclass(slots=True)
class VersionedSet:
    fields: FieldSet  # in canonical order (see fieldpath), as every set operation keeps it
    api_version: str
    applied: bool


@dataclass(slots=True)
class Managed:
    sets: dict[ManagerKey, VersionedSet] = field(default_factory=dict)
    times: dict[ManagerKey, str | None] = field(default_factory=dict)

    def copy(self) -> Managed:
        return Managed(dict(self.sets), dict(self.times))


def decode(entries: Any, *, trusted: bool) -> Managed:
    """`metadata.managedFields` read into a `Managed`; `DecodeError` if any entry is invalid."""
    managed = Managed()
    if entries is None:
        return managed
    if not isinstance(entries, list):
        raise DecodeError("managedFields must be a list")
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise DecodeError(f"managed fields entry {i} must be an object")
        operation = entry.get("operation")
        if operation not in (APPLY, UPDATE):
            raise DecodeError("operation must be `Apply` or `Update`")
        api_version = entry.get("apiVersion")
        if not api_version or not isinstance(api_version, str):
            raise DecodeError("apiVersion must not be empty")
        fields_type = entry.get("fieldsType")
        if not fields_type:
            raise DecodeError(f"missing fieldsType in managed fields entry {i}")
        if fields_type != "FieldsV1":
            raise DecodeError(f'invalid fieldsType "{fields_type}" in managed fields entry {i}')
        raw = entry.get("fieldsV1")
        if trusted:
            fields = raw if isinstance(raw, dict) else {}
        else:
            try:
                fields = canonical(from_fields_v1(raw))
            except FieldsV1Error as exc:
                raise DecodeError(f"error decoding versioned set from entry {i}: {exc}") from exc
        key = ManagerKey(str(entry.get("manager") or ""), operation,
                         "" if operation == APPLY else api_version, str(entry.get("subresource") or ""))
        managed.sets[key] = VersionedSet(fields, api_version, operation == APPLY)
        time = entry.get("time")
        managed.times[key] = time if isinstance(time, str) else None
    return managed


@functools.lru_cache(maxsize=1024)
def entry_seconds(time: str | None) -> int:
    """An entry time as Unix seconds (0 when absent), what upstream sorts entries by."""
    if not time:
        return 0
    try:
        return int(datetime.datetime.fromisoformat(time.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return 0


def encode(managed: Managed) -> list[dict[str, Any]]:
    """The entries of `managed`, in upstream's order."""
    entries: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    for key, vs in managed.sets.items():
        operation = APPLY if vs.applied else key.operation
        entry: dict[str, Any] = {}
        if key.manager:
            entry["manager"] = key.manager
        entry["operation"] = operation
        entry["apiVersion"] = vs.api_version
        time = managed.times.get(key)
        if time is not None:
            entry["time"] = time
        entry["fieldsType"] = "FieldsV1"
        entry["fieldsV1"] = vs.fields
        if key.subresource:
            entry["subresource"] = key.subresource
        order = (operation, entry_seconds(time), key.manager, vs.api_version, key.subresource)
        entries.append((order, entry))
    entries.sort(key=lambda pair: pair[0])
    return [entry for _, entry in entries]


# --- conflicts ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Conflict:
    manager: ManagerKey
    path: tuple[str, ...]


class Conflicts(Exception):
    """An apply changed fields that other managers own."""

    def __init__(self, conflicts: list[Conflict]) -> None:
        self.conflicts = conflicts
        super().__init__(self.message())

    def message(self) -> str:
        if len(self.conflicts) == 1:
            c = self.conflicts[0]
            return f"Apply failed with 1 conflict: conflict with {c.manager.printed()}: {path_string(c.path)}"
        by_manager: dict[ManagerKey, list[tuple[str, ...]]] = {}
        for c in self.conflicts:
            by_manager.setdefault(c.manager, []).append(c.path)
        lines: list[str] = []
        for key in sorted(by_manager, key=ManagerKey.identifier):
            lines.append(f"conflicts with {key.printed()}:")
            lines.extend(f"- {path_string(p)}" for p in by_manager[key])
        return f"Apply failed with {len(self.conflicts)} conflicts: " + "\n".join(lines)

    def causes(self) -> list[dict[str, str]]:
        return [{"reason": "FieldManagerConflict", "message": f"conflict with {c.manager.printed()}",
                 "field": path_string(c.path)} for c in self.conflicts]

    def fields(self) -> FieldSet:
        out: FieldSet = {}
        for c in self.conflicts:
            out = union(out, _single(c.path))
        return out


def _single(path: tuple[str, ...]) -> FieldSet:
    node: FieldSet = {}
    for element in reversed(path):
        node = {element: node}
    return node


# --- the structured operations ----------------------------------------------------------------------


def _take(managers: dict[ManagerKey, VersionedSet], key: ManagerKey, fields: FieldSet) -> None:
    vs = managers[key]
    if fields is vs.fields:
        return
    if fields:
        managers[key] = VersionedSet(fields, vs.api_version, vs.applied)
    else:
        del managers[key]


def _settle(live: Any, new: Any, t: typed.Typ, managers: dict[ManagerKey, VersionedSet],
            writer: ManagerKey, force: bool, ignored: FieldSet) -> tuple[FieldSet, FieldSet]:
    """Take changed fields from the other managers (conflicts unless `force`), drop removed ones;
    returns (changed: modified or added, removed)."""
    comparison = typed.compare(live, new, t)
    changed = union(comparison.modified, comparison.added)
    removed = comparison.removed
    if ignored:
        changed = recursive_difference(changed, ignored)
        removed = recursive_difference(removed, ignored)
    if not changed and not removed:
        return changed, removed
    conflicts: dict[ManagerKey, FieldSet] = {}
    for key, vs in managers.items():
        if key == writer:
            continue
        if changed:
            owned = intersection(vs.fields, changed)
            if owned:
                conflicts[key] = owned
    if conflicts and not force:
        found = [Conflict(key, p) for key in sorted(conflicts, key=ManagerKey.identifier)
                 for p in paths(conflicts[key])]
        raise Conflicts(found)
    for key in list(managers):
        if key == writer:
            continue
        fields = managers[key].fields
        if key in conflicts:
            fields = difference(fields, conflicts[key])
        if removed:
            fields = difference(fields, removed)
        _take(managers, key, fields)
    return changed, removed


def update(live: Any, new: Any, t: typed.Typ, api_version: str, managers: dict[ManagerKey, VersionedSet],
           writer: ManagerKey, ignored: FieldSet = {}) -> None:  # noqa: B006 - never mutated
    """Record a non-apply write of `new` over `live` by `writer` into `managers` (in place)."""
    changed, removed = _settle(live, new, t, managers, writer, True, ignored)
    previous = managers.get(writer)
    fields = previous.fields if previous is not None else {}
    fields = union(difference(fields, removed), changed)
    if ignored:
        fields = recursive_difference(fields, ignored)
    if fields:
        if previous is None or fields is not previous.fields:
            managers[writer] = VersionedSet(fields, api_version, False)
    else:
        managers.pop(writer, None)


def apply(live: Any, config: Any, config_fields: FieldSet, t: typed.Typ, api_version: str,
          managers: dict[ManagerKey, VersionedSet], applier: ManagerKey, force: bool,
          ignored: FieldSet = {}) -> Any:  # noqa: B006 - never mutated
    """Merge `config` into `live` for `applier`; returns the new object, or None when nothing in the
    object changes. `managers` is updated in place; `Conflicts` when not forced."""
    merged = typed.merge(live, config, t)
    last = managers.get(applier)
    fields = recursive_difference(config_fields, ignored) if ignored else config_fields
    managers[applier] = VersionedSet(fields, api_version, True)
    if last is not None and last.fields:
        merged = _prune(merged, managers, last.fields, t)
    _settle(live, merged, t, managers, applier, force, ignored)
    if merged == live:
        return None
    return merged


def _prune(merged: Any, managers: dict[ManagerKey, VersionedSet], last: FieldSet, t: typed.Typ) -> Any:
    """Remove what the applier applied last time and no longer applies, unless someone owns it."""
    ensure = typed.ensure_named_fields
    last_e = ensure(last, t)
    pruned = typed.remove_items(merged, last_e, t)
    owned: FieldSet = {}
    for vs in managers.values():
        owned = union(owned, vs.fields)
    merged_set = ensure(typed.field_set(merged, t), t)
    pruned_set = ensure(typed.field_set(pruned, t), t)
    pruned = typed.remove_items(merged, difference(merged_set, union(pruned_set, ensure(owned, t))), t)
    pruned_set = ensure(typed.field_set(pruned, t), t)
    return typed.remove_items(merged, intersection(difference(merged_set, pruned_set), last_e), t)
