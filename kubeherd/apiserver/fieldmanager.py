"""managedFields on every write, and server-side apply: upstream's field manager, for the registry.

The registry calls three functions at the point of a write where the object is final (defaults
filled, status reset by the strategy) and nothing is stored yet:

* `track_create(resource, obj, manager)` and `track_update(resource, old, obj, manager, sent)`
  record a create, update or patch as operation **Update** of `manager`;
* `apply(resource, live, config, manager, force)` merges an applied configuration into the live
  object (None when creating) as operation **Apply**; the registry then writes the result as it
  writes any update (`WriteManager.applied` tells it the bookkeeping is done).

Around the structured operations of `kubeherd.api.managedfields` this module does what upstream's
chain of managers does, in the same order (`fieldmanager.go` and its wrappers):

* the manager name is the `fieldManager` parameter or the user agent up to its first `/`
  (`kubectl/v1.33.0 (linux/amd64) ...` → `kubectl`), "unknown" when there is neither; in-process
  components send no user agent, so their identity names them (`system:kube-scheduler` →
  `kube-scheduler`, a node → `kubelet`);
* managedFields sent with a create or update are used when they decode, replaced by the live ones
  when they do not or are empty, and `[]` or `[{}]` clears them; an object without managedFields
  is not tracked by updates until it is applied to, and the first apply to it first records its
  fields for `before-first-apply`;
* entries lose what no manager may own (`apiVersion`, `kind`, `metadata.name`, `uid`,
  `resourceVersion`...); a write that takes no field leaves its entry and time alone, and a
  no-op apply does not write;
* at most 10 Update entries are kept: the oldest are merged into `ancient-changes`;
* when the manager is `kubectl`, an apply that conflicts only on fields recorded in the
  client-side apply annotation (`kubectl.kubernetes.io/last-applied-configuration`) with their
  live values is forced, and the annotation, where there is one, is rewritten to the applied
  configuration, so client-side and server-side apply can follow each other;
* a main resource's writes never own `status`; the status subresource's only own `status`; the
  scale subresource moves `spec.replicas` to an entry with subresource `scale` (upstream writes
  that entry without a time, and so does this);
* the object an apply produces is defaulted again, so a default that was pruned (because the
  applier, or the client-side apply it migrated from, owned it) comes back, as upstream's
  defaulter brings it back. kubeherd defaults in the strategies' `prepare_for_create`; its result
  is used only where the applied object leaves a field unset.

Cost: an update compares only the parts of the object that changed (see `typed`), reads the
stored entries without re-parsing their sets, and keeps every set in its serialized order, so an
entry nobody touched is written back as it was read and one that changed needs no sorting pass.
"""

from __future__ import annotations

import copy
import datetime
import json
from dataclasses import dataclass
from typing import Any

import orjson
import yaml

from kubeherd.api import errors
from kubeherd.api.managedfields import (
    APPLY,
    UPDATE,
    Conflicts,
    DecodeError,
    FieldSet,
    Managed,
    ManagerKey,
    TypedError,
    VersionedSet,
    compare,
    decode,
    difference,
    encode,
    field_set,
    has,
    root_type,
    union,
)
from kubeherd.api.managedfields import apply as structured_apply
from kubeherd.api.managedfields import update as structured_update
from kubeherd.api.managedfields.managers import entry_seconds
from kubeherd.api.resources import Resource
from kubeherd.apiserver.strategies import rfc3339, strategy_for

Obj = dict[str, Any]

MAX_UPDATE_MANAGERS = 10
FIELD_MANAGER_MAX_LENGTH = 128
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
BEFORE_FIRST_APPLY = "before-first-apply"
ANCIENT_CHANGES = "ancient-changes"
KUBECTL = "kubectl"

_CURRENT = ManagerKey("current-operation", "", "")
# What no entry may own (upstream's stripMeta set).
_STRIP: FieldSet = {
    "f:apiVersion": {}, "f:kind": {},
    "f:metadata": {".": {}, "f:name": {}, "f:namespace": {}, "f:creationTimestamp": {}, "f:selfLink": {},
                   "f:uid": {}, "f:clusterName": {}, "f:generation": {}, "f:managedFields": {},
                   "f:resourceVersion": {}},
}
_STATUS: FieldSet = {"f:status": {}}
_REPLICAS: FieldSet = {"f:spec": {"f:replicas": {}}}
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True, slots=True)
class WriteManager:
    """Who writes, for managedFields: the manager name and the subresource written through.

    `applied`: the object's managedFields were computed by `apply` and are kept as they are.
    """

    name: str
    subresource: str = ""
    applied: bool = False


# --- manager names ---------------------------------------------------------------------------


def prefix_from_user_agent(user_agent: str) -> str:
    """The user agent up to its first `/`, printable characters only, at most 128 bytes."""
    out: list[str] = []
    size = 0
    for ch in user_agent.split("/", 1)[0]:
        if not ch.isprintable():
            continue
        size += len(ch.encode())
        if size > FIELD_MANAGER_MAX_LENGTH:
            break
        out.append(ch)
    return "".join(out)


def manager_name(field_manager: str, user_agent: str, in_process_user: Any = None) -> str:
    """`fieldManager`, else the user agent's prefix, else the in-process caller's component name
    (`in_process_user`: the identity of a caller that reached the API without HTTP)."""
    if field_manager:
        return field_manager
    if user_agent:
        return prefix_from_user_agent(user_agent)
    name = str(getattr(in_process_user, "name", "") or "")
    if name.startswith("system:node:"):
        return "kubelet"
    return prefix_from_user_agent(name.removeprefix("system:"))


def validate_field_manager(value: str, options_kind: str, *, apply: bool = False, force: str | None = None
                           ) -> None:
    """The checks of upstream's Create/Update/PatchOptions validation: 422 with the field named."""
    causes: list[dict[str, str]] = []
    if options_kind == "PatchOptions":
        if not apply and force is not None:
            causes.append({"type": "FieldValueForbidden", "field": "force",
                           "message": "Forbidden: may not be specified for non-apply patch"})
        if apply and not value:
            causes.append({"type": "FieldValueRequired", "field": "fieldManager",
                           "message": "Required value: is required for apply patch"})
    if len(value.encode()) > FIELD_MANAGER_MAX_LENGTH:
        causes.append({"type": "FieldValueTooLong", "field": "fieldManager",
                       "message": f"Too long: may not be more than {FIELD_MANAGER_MAX_LENGTH} bytes"})
    if not value.isprintable():
        causes.append({"type": "FieldValueInvalid", "field": "fieldManager",
                       "message": f"Invalid value: {json.dumps(value)}: invalid characters"})
    if causes:
        raise errors.invalid("meta.k8s.io", options_kind, "", causes)


# --- the shared pieces ---------------------------------------------------------------------------


def _now() -> str:
    return rfc3339(datetime.datetime.now(datetime.UTC))


def _without_managed(obj: Obj) -> Obj:
    meta = obj.get("metadata")
    if isinstance(meta, dict) and "managedFields" in meta:
        return {**obj, "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}
    return obj


def _ignored(resource: Resource, subresource: str) -> FieldSet:
    return _STATUS if not subresource and resource.has_status() else {}


def _store(obj: Obj, managed: Managed) -> None:
    meta = obj.setdefault("metadata", {})
    if managed.sets:
        meta["managedFields"] = encode(managed)
    else:
        meta.pop("managedFields", None)


def _decode_live(entries: Any) -> Managed:
    try:
        return decode(entries, trusted=True)
    except DecodeError:
        return Managed()


def _is_reset(entries: Any) -> bool:
    if not isinstance(entries, list):
        return False
    if not entries:
        return True
    return len(entries) == 1 and isinstance(entries[0], dict) and not any(entries[0].values())


def _live_or_sent(live_entries: Any, sent: Any, subresource: str) -> tuple[Managed, bool]:
    """Upstream's decodeLiveOrNew: the sent entries when they decode to something, else the live
    ones; and whether the live ones were taken."""
    if subresource or sent is live_entries or sent is None:
        return _decode_live(live_entries), True
    if _is_reset(sent):
        return Managed(), False
    if sent == live_entries:
        return _decode_live(live_entries), True
    try:
        managed = decode(sent, trusted=False)
    except DecodeError:
        return _decode_live(live_entries), True
    if managed.sets:
        return managed, False
    return _decode_live(live_entries), True


def _strip(sets: dict[ManagerKey, VersionedSet], key: ManagerKey) -> None:
    vs = sets.get(key)
    if vs is None:
        return
    fields = difference(vs.fields, _STRIP)
    if not fields:
        del sets[key]
    elif fields is not vs.fields:
        sets[key] = VersionedSet(fields, vs.api_version, vs.applied)


def _cap(managed: Managed) -> None:
    """Keep at most MAX_UPDATE_MANAGERS Update entries, merging the oldest per apiVersion."""
    updaters = [key for key, vs in managed.sets.items() if not vs.applied]
    if len(updaters) <= MAX_UPDATE_MANAGERS:
        return
    updaters.sort(key=lambda k: (entry_seconds(managed.times.get(k)), k.identifier()))
    first_of_version: dict[str, ManagerKey] = {}
    remaining = len(updaters)
    for key in updaters:
        if remaining <= MAX_UPDATE_MANAGERS:
            break
        vs = managed.sets[key]
        version = vs.api_version
        bucket = ManagerKey(ANCIENT_CHANGES, UPDATE, version)
        first = first_of_version.get(version)
        if first is None:
            first_of_version[version] = key
            continue
        if bucket not in managed.sets:
            managed.sets[bucket] = managed.sets.pop(first)
            managed.times.pop(first, None)
        managed.sets[bucket] = VersionedSet(union(vs.fields, managed.sets[bucket].fields), version, vs.applied)
        del managed.sets[key]
        time = managed.times.pop(key, None)
        managed.times[bucket] = time
        remaining -= 1


def _record_update(resource: Resource, subresource: str, live: Obj | None, new: Obj, managed: Managed,
                   name: str) -> Managed:
    """Operation Update of `name` from `live` (None: a create) to `new`; objects without managedFields.

    Returns `managed` itself when no field changed hands."""
    if not managed.sets and live is not None:
        return managed  # updates do not start tracking an untracked object
    t = root_type(resource.group, resource.version, resource.kind)
    api_version = resource.api_version
    sets = dict(managed.sets)
    structured_update(live if live is not None else {}, new, t, api_version, sets, _CURRENT,
                      _ignored(resource, subresource))
    _strip(sets, _CURRENT)
    current = sets.pop(_CURRENT, None)
    if current is None and len(sets) == len(managed.sets) and \
            all(sets.get(k) is vs for k, vs in managed.sets.items()):
        return managed
    times = dict(managed.times)
    if current is not None:
        key = ManagerKey(name or "unknown", UPDATE, api_version, subresource)
        previous = sets.get(key)
        fields = union(current.fields, previous.fields) if previous is not None else current.fields
        sets[key] = VersionedSet(fields, api_version, False)
        times[key] = _now()
    out = Managed(sets, times)
    _cap(out)
    return out


def _record_scale(resource: Resource, live: Obj, new: Obj, managed: Managed, name: str) -> Managed:
    """An update through the scale subresource: only `spec.replicas` changes hands."""
    old_replicas = (live.get("spec") or {}).get("replicas")
    new_replicas = (new.get("spec") or {}).get("replicas")
    if old_replicas == new_replicas or not managed.sets:
        return managed
    sets: dict[ManagerKey, VersionedSet] = {}
    times = dict(managed.times)
    for key, vs in managed.sets.items():
        fields = difference(vs.fields, _REPLICAS)
        if fields is vs.fields:
            sets[key] = vs
        elif fields:
            sets[key] = VersionedSet(fields, vs.api_version, vs.applied)
    key = ManagerKey(name or "unknown", UPDATE, resource.api_version, "scale")
    sets[key] = VersionedSet(_REPLICAS, resource.api_version, False)
    times[key] = None  # upstream carries over the parent's time for this entry, which it never has
    return Managed(sets, times)


# --- the write paths ---------------------------------------------------------------------------------


def track_create(resource: Resource, obj: Obj, manager: WriteManager | None) -> None:
    """Set `obj`'s managedFields for its creation by `manager` (None: keep none)."""
    meta = obj.setdefault("metadata", {})
    if manager is None:
        meta.pop("managedFields", None)
        return
    if manager.applied:
        return
    managed, _ = _live_or_sent(None, meta.get("managedFields"), manager.subresource)
    managed = _record_update(resource, manager.subresource, None, _without_managed(obj), managed, manager.name)
    _store(obj, managed)


def track_update(resource: Resource, old: Obj, obj: Obj, manager: WriteManager | None, sent: Any) -> None:
    """Set `obj`'s managedFields for its update from `old` by `manager`.

    `sent` is the managedFields the request carried (for the status subresource they are
    ignored); with no manager (internal writes) the stored entries carry over unchanged.
    """
    meta = obj.setdefault("metadata", {})
    live_entries = (old.get("metadata") or {}).get("managedFields")
    if manager is None:
        if live_entries is None:
            meta.pop("managedFields", None)
        else:
            meta["managedFields"] = live_entries
        return
    if manager.applied:
        if manager.subresource:
            if sent is None:
                meta.pop("managedFields", None)
            else:
                meta["managedFields"] = sent
        return
    if manager.subresource == "scale":
        managed = _decode_live(live_entries)
        result = _record_scale(resource, old, obj, managed, manager.name)
        if result is managed:
            if live_entries is None:
                meta.pop("managedFields", None)
            else:
                meta["managedFields"] = live_entries
            return
        _store(obj, result)
        return
    managed, from_live = _live_or_sent(live_entries, sent, manager.subresource)
    result = _record_update(resource, manager.subresource, _without_managed(old), _without_managed(obj),
                            managed, manager.name)
    if result is managed and from_live:
        # nothing changed hands: the stored list stays exactly as it is
        if live_entries is None:
            meta.pop("managedFields", None)
        else:
            meta["managedFields"] = live_entries
        return
    _store(obj, result)


# --- apply ------------------------------------------------------------------------------------------------


def _gvk_string(api_version: str, kind: str) -> str:
    group, _, version = api_version.rpartition("/")
    return f"{group}/{version}, Kind={kind}"


def _meta_of(obj: Obj) -> Obj:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _object_ref(resource: Resource, config: Obj) -> str:
    """How upstream names the applied object in errors: `ns/name; apps/v1, Kind=Deployment`."""
    meta = _meta_of(config)
    return f"{meta.get('namespace') or ''}/{meta.get('name') or ''}; {_gvk_string(resource.api_version, resource.kind)}"


def _apply_config(resource: Resource, subresource: str, config: Obj) -> Obj:
    """What of the configuration the write path may change: the status subresource only `status`."""
    if subresource != "status":
        return config
    meta = _meta_of(config)
    out: Obj = {k: config[k] for k in ("apiVersion", "kind") if k in config}
    out["metadata"] = {k: meta[k] for k in ("name", "namespace") if k in meta}
    if "status" in config:
        out["status"] = config["status"]
    return out


def _last_applied(config: Obj) -> str:
    """The annotation value upstream writes: the configuration without the annotation, as Go's
    JSON encoder writes a map (sorted keys, compact, HTML characters escaped) plus a newline."""
    obj = copy.deepcopy(config)
    meta = obj.get("metadata")
    if isinstance(meta, dict) and isinstance(meta.get("annotations"), dict):
        meta["annotations"].pop(LAST_APPLIED, None)
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return text + "\n"


def _allowed_by_last_applied(resource: Resource, live: Obj) -> FieldSet | None:
    """Fields the client-side apply annotation sets to their live values (None: no annotation)."""
    annotations = (live.get("metadata") or {}).get("annotations") or {}
    text = annotations.get(LAST_APPLIED) if isinstance(annotations, dict) else None
    if not text or not isinstance(text, str):
        return None
    try:
        last = json.loads(text)
    except ValueError:
        return None
    if not isinstance(last, dict) or last.get("apiVersion") != resource.api_version:
        return None
    t = root_type(resource.group, resource.version, resource.kind)
    try:
        fields = field_set(last, t, validate=True)
    except TypedError:
        return None
    comparison = compare(last, live, t)
    return difference(difference(difference(fields, comparison.modified), comparison.added), comparison.removed)


def apply(resource: Resource, live: Obj | None, config: Any, manager: WriteManager, force: bool) -> Obj:
    """The object that applying `config` for `manager` makes of `live` (None: it does not exist
    yet), with its managedFields. 409 with the conflicts unless `force`; 400 for configurations
    that are not an object of the resource's kind."""
    if config is None:
        config = {}
    if not isinstance(config, dict):
        kind = "array" if isinstance(config, list) else "string" if isinstance(config, str) else "number"
        raise errors.bad_request(f"error decoding YAML: json: cannot unmarshal {kind} into Go value of type "
                                 f"map[string]interface {{}}")
    api_version = config.get("apiVersion") or ""
    kind = config.get("kind") or ""
    if api_version != resource.api_version or kind != resource.kind:
        raise errors.bad_request(f"invalid object type: {_gvk_string(str(api_version), str(kind))}")
    meta = config.get("metadata")
    if meta is not None and not isinstance(meta, dict):
        raise errors.bad_request("metadata must be an object")
    if isinstance(meta, dict) and meta.get("managedFields") is not None:
        raise errors.bad_request("metadata.managedFields must be nil")
    subresource = manager.subresource
    t = root_type(resource.group, resource.version, resource.kind)
    config = _apply_config(resource, subresource, config)
    try:
        config_fields = field_set(config, t, validate=True)
    except TypedError as exc:
        raise errors.bad_request(f"failed to create typed patch object ({_object_ref(resource, config)}): "
                                 f"{exc}") from None
    base: Obj = live if live is not None else {}
    live_entries = (base.get("metadata") or {}).get("managedFields")
    if live_entries is not None:
        try:
            managed = decode(live_entries, trusted=True)
        except DecodeError as exc:
            raise errors.internal(f"failed to decode managed fields: {exc}") from None
    else:
        managed = Managed()
    plain = _without_managed(base)
    if not managed.sets:
        # the fields already there belong to "before-first-apply", as upstream records them
        managed = _record_update(resource, subresource, None, plain, managed, BEFORE_FIRST_APPLY)
    key = ManagerKey(manager.name, APPLY, "", subresource)
    ignored = _ignored(resource, subresource)

    def attempt(force: bool) -> tuple[Obj, Managed]:
        sets = dict(managed.sets)
        times = dict(managed.times)
        new = structured_apply(plain, config, config_fields, t, resource.api_version, sets, key, force, ignored)
        _strip(sets, key)
        if new is not None:
            times[key] = _now()
            result = new
        else:
            result = copy.deepcopy(plain)
        return result, Managed(sets, times)

    try:
        result, managed = attempt(force)
    except Conflicts as conflicts:
        allowed = _allowed_by_last_applied(resource, plain) if manager.name == KUBECTL else None
        if allowed is None:
            raise _conflict_error(conflicts) from None
        remaining = [c for c in conflicts.conflicts if not has(allowed, c.path)]
        if remaining:
            raise _conflict_error(Conflicts(remaining)) from None
        result, managed = attempt(True)
    if live is not None and not subresource and result != plain:
        result = _defaulted(resource, result)
    result = {**result, "metadata": dict(_meta_of(result))}  # the merge shares what it left alone
    if manager.name == KUBECTL:
        annotations = result["metadata"].get("annotations")
        if isinstance(annotations, dict) and annotations.get(LAST_APPLIED):
            result["metadata"]["annotations"] = {**annotations, LAST_APPLIED: _last_applied(config)}
    _store(result, managed)
    return result


def _defaulted(resource: Resource, obj: Obj) -> Obj:
    """`obj` with the kind's defaults filled in where it leaves a field unset.

    Upstream defaults the object an apply produces: a default the applier (or the client-side
    apply it migrated from) owned and stopped applying is pruned, then comes back. kubeherd's
    strategies default on create, so their create-time result, taken only where `obj` has
    nothing, plays that part."""
    probe = copy.deepcopy(obj)
    strategy_for(resource).prepare_for_create(probe)
    return _fill(obj, probe)


def _fill(value: Any, defaults: Any) -> Any:
    if type(value) is dict and type(defaults) is dict:
        out = dict(value)
        for key, default in defaults.items():
            out[key] = _fill(value[key], default) if key in value else default
        return out
    if type(value) is list and type(defaults) is list and len(value) == len(defaults):
        return [_fill(v, d) for v, d in zip(value, defaults, strict=True)]
    return value


def _conflict_error(conflicts: Conflicts) -> errors.APIError:
    return errors.APIError(409, "Conflict", conflicts.message(), {"causes": conflicts.causes()})


class _ApplyLoader(_YAML_LOADER):  # type: ignore[misc, valid-type]
    """A safe YAML loader that notes keys written twice in one mapping (for fieldValidation)."""

    duplicates: list[str]


def _construct_mapping(loader: _ApplyLoader, node: Any, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _value in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            again = key in seen
        except TypeError:
            continue
        if again:
            loader.duplicates.append(f'line {key_node.start_mark.line + 1}: key "{key}" already set in map')
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)  # type: ignore[no-any-return]


_ApplyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def decode_apply_body(body: bytes, strict: bool) -> tuple[Any, list[str]]:
    """An apply body (YAML, or JSON which is YAML) and, when `strict`, the keys it repeats in the
    words of upstream's YAML decoder (`line 3: key "replicas" already set in map`)."""
    if not strict:
        try:
            return orjson.loads(body), []
        except orjson.JSONDecodeError:
            pass
    loader = _ApplyLoader(body)
    loader.duplicates = []
    try:
        return loader.get_single_data(), loader.duplicates
    except yaml.YAMLError as exc:
        raise errors.bad_request(f"error decoding YAML: {exc}") from None
    finally:
        loader.dispose()
