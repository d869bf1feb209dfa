"""The generic registry: create, read, update, patch and delete for every kind, through one path.

It knows nothing of HTTP. It reads from the watch cache, writes through the Store with
compare-and-swap on the object's revision, and asks the kind's strategy about what differs
between kinds. Every write is validated whole before anything is stored, so a rejected request
never leaves a partial write behind.
"""

from __future__ import annotations

import base64
import copy
import datetime
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from kubeherd.api import errors
from kubeherd.api.patch import PatchError, json_patch, merge_patch
from kubeherd.api.resources import CATALOG, Catalog, Resource
from kubeherd.api.schema import kind_schema
from kubeherd.api.strategic import StrategicPatchError, strategic_merge_patch
from kubeherd.apiserver import admission, fieldmanager
from kubeherd.apiserver.fieldmanager import WriteManager
from kubeherd.apiserver.strategies import default_pod_spec, rfc3339, spec_of, strategy_for
from kubeherd.storage.cache import CachedObject, WatchCache
from kubeherd.storage.interface import KeyExists, KeyNotFound, RevisionConflict, Store

Obj = dict[str, Any]
_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"
PATCH_RETRIES = 5


def object_key(resource: Resource, namespace: str, name: str) -> str:
    if resource.namespaced:
        return f"{resource.storage_prefix}{namespace}/{name}"
    return f"{resource.storage_prefix}{name}"


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


@dataclass(slots=True)
class DeleteOptions:
    grace_period: int | None = None
    propagation: str | None = None
    precondition_uid: str | None = None
    precondition_rv: str | None = None
    dry_run: bool = False

    @classmethod
    def parse(cls, body: Any, query: Callable[[str], str]) -> DeleteOptions:
        opts = cls()
        if isinstance(body, dict):
            if body.get("gracePeriodSeconds") is not None:
                opts.grace_period = int(body["gracePeriodSeconds"])
            opts.propagation = body.get("propagationPolicy")
            if body.get("orphanDependents") is True and not opts.propagation:
                opts.propagation = "Orphan"
            pre = body.get("preconditions") or {}
            opts.precondition_uid = pre.get("uid")
            opts.precondition_rv = pre.get("resourceVersion")
            opts.dry_run = "All" in (body.get("dryRun") or [])
        if query("gracePeriodSeconds"):
            try:
                opts.grace_period = int(query("gracePeriodSeconds"))
            except ValueError as exc:
                raise errors.bad_request("gracePeriodSeconds must be an integer") from exc
        if query("propagationPolicy"):
            opts.propagation = query("propagationPolicy")
        if query("orphanDependents") == "true" and not opts.propagation:
            opts.propagation = "Orphan"
        if query("dryRun") == "All":
            opts.dry_run = True
        if opts.propagation not in (None, "Orphan", "Background", "Foreground"):
            raise errors.invalid("", "DeleteOptions", "", [{
                "type": "FieldValueNotSupported", "field": "propagationPolicy",
                "message": f'Unsupported value: "{opts.propagation}": supported values: '
                           '"Foreground", "Background", "Orphan", "nil"'}])
        return opts


class WriteHooks(Protocol):
    """Work a kind needs around its storage writes beyond its strategy's pure changes (Services
    allocate cluster IPs and node ports). Each begin runs after validation and returns the
    function that ends the write: called with True once the object is stored, False otherwise."""

    async def begin_create(self, obj: Obj, dry_run: bool) -> Callable[[bool], Awaitable[None]]: ...

    async def begin_update(self, new: Obj, old: Obj, dry_run: bool) -> Callable[[bool], Awaitable[None]]: ...

    async def after_delete(self, obj: Obj) -> None: ...


class Registry:
    def __init__(self, store: Store, cache: WatchCache, catalog: Catalog = CATALOG) -> None:
        self.store = store
        self.cache = cache
        self.catalog = catalog
        self.write_hooks: dict[tuple[str, str], WriteHooks] = {}  # by (group, kind)

    # ----------------------------------------------------------------- reads
    async def get(self, resource: Resource, namespace: str, name: str) -> CachedObject:
        await self.cache.wait_fresh()
        cached = self.cache.resource(resource.storage_prefix).items.get(object_key(resource, namespace, name))
        if cached is None:
            raise errors.not_found(resource.group, resource.plural, name)
        return cached

    def _versioned(self, resource: Resource, cached: CachedObject) -> bytes:
        """The stored bytes, or re-encoded if the request's version differs from the stored one."""
        obj = cached.obj
        if obj.get("apiVersion") == resource.api_version and obj.get("kind") == resource.kind:
            return cached.raw
        return orjson.dumps({**obj, "apiVersion": resource.api_version, "kind": resource.kind})

    def encode(self, resource: Resource, cached: CachedObject) -> bytes:
        return self._versioned(resource, cached)

    # ----------------------------------------------------------------- create
    async def create(self, resource: Resource, namespace: str, body: Any, *, dry_run: bool = False,
                     user: admission.UserInfo | None = None, manager: WriteManager | None = None,
                     admit: Callable[[Obj], None] | None = None) -> tuple[Obj, bytes]:
        """Create; `admit` is mutating admission, run after the creator's fields are recorded (so
        what admission adds belongs to no manager, as upstream) and before validation."""
        obj = self._check_body(resource, body)
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise errors.bad_request("metadata must be an object")
        if resource.namespaced:
            body_ns = meta.get("namespace")
            if body_ns and body_ns != namespace:
                raise errors.bad_request("the namespace of the provided object does not match the namespace "
                                         "sent on the request")
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = str(meta["generateName"]) + "".join(random.choices(_NAME_CHARS, k=5))
        if meta.get("resourceVersion"):
            raise errors.bad_request("resourceVersion should not be set on objects to be created")
        name = str(meta.get("name") or "")
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = rfc3339(now())
        for transient in ("deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
            meta.pop(transient, None)
        if resource.generation:
            meta["generation"] = 1
        else:
            meta.pop("generation", None)
        if resource.has_status():
            obj.pop("status", None)
        strategy_for(resource).prepare_for_create(obj)
        fieldmanager.track_create(resource, obj, manager)
        if admit is not None:
            admit(obj)
        admission.validate_create(resource, obj)
        if resource.namespaced:
            await self._check_namespace(resource, namespace, name)
        hooks = self.write_hooks.get((resource.group, resource.kind))
        finish = await hooks.begin_create(obj, dry_run) if hooks is not None else None
        if dry_run:
            if finish is not None:
                await finish(False)
            return obj, orjson.dumps(obj)
        key = object_key(resource, namespace, name)
        try:
            kv = await self.store.create(key, orjson.dumps(obj))
        except BaseException as exc:
            if finish is not None:
                await finish(False)
            if isinstance(exc, KeyExists):
                raise errors.already_exists(resource.group, resource.plural, name) from None
            raise
        if finish is not None:
            await finish(True)
        meta["resourceVersion"] = str(kv.mod_revision)
        return obj, orjson.dumps(obj)

    def _check_body(self, resource: Resource, body: Any) -> Obj:
        if not isinstance(body, dict):
            raise errors.bad_request(f"the body of the request must be a {resource.kind} object")
        api_version = body.get("apiVersion")
        kind = body.get("kind")
        if api_version and api_version != resource.api_version:
            other = self._other_version(resource, str(api_version))
            if not other:
                raise errors.bad_request(f"the API version in the data ({api_version}) does not match the "
                                         f"expected API version ({resource.api_version})")
        if kind and kind != resource.kind:
            raise errors.bad_request(f"the kind in the data ({kind}) does not match the expected kind "
                                     f"({resource.kind})")
        obj = dict(body)
        obj["apiVersion"] = resource.api_version
        obj["kind"] = resource.kind
        return obj

    def _other_version(self, resource: Resource, api_version: str) -> bool:
        """Whether `api_version` is another served version of the same group and kind."""
        group, _, version = api_version.rpartition("/")
        return group == resource.group and self.catalog.by_kind(group, version, resource.kind) is not None

    async def _check_namespace(self, resource: Resource, namespace: str, name: str) -> None:
        await self.cache.wait_fresh()
        ns = self.cache.resource("/registry/core/namespaces/").items.get(f"/registry/core/namespaces/{namespace}")
        if ns is None:
            raise errors.not_found("", "namespaces", namespace)
        if ns.obj["metadata"].get("deletionTimestamp"):
            raise errors.namespace_terminating(resource.group, resource.plural, name, namespace)

    # ----------------------------------------------------------------- update
    async def update(self, resource: Resource, namespace: str, name: str, body: Any, *,
                     subresource: str = "", dry_run: bool = False,
                     manager: WriteManager | None = None) -> tuple[Obj, bytes, bool]:
        """PUT. Returns (object, bytes, created=False)."""
        obj = self._check_body(resource, body)
        meta = obj.get("metadata")
        if not isinstance(meta, dict):
            raise errors.bad_request("metadata must be an object")
        if meta.get("name") and meta["name"] != name:
            raise errors.bad_request(f"the name of the object ({meta['name']}) does not match the name on "
                                     f"the URL ({name})")
        if resource.namespaced and meta.get("namespace") and meta["namespace"] != namespace:
            raise errors.bad_request("the namespace of the provided object does not match the namespace "
                                     "sent on the request")
        current = await self.get(resource, namespace, name)
        expected = meta.get("resourceVersion")
        if expected and str(expected) != str(current.revision):
            raise errors.conflict(resource.group, resource.plural, name, errors.STALE_OBJECT)
        result = await self._write(resource, current, obj, subresource=subresource, dry_run=dry_run,
                                   manager=manager)
        return result[0], result[1], False

    async def patch(self, resource: Resource, namespace: str, name: str, patch_type: str, patch: Any, *,
                    subresource: str = "", dry_run: bool = False,
                    check: Callable[[Obj], Obj] | None = None,
                    manager: WriteManager | None = None) -> tuple[Obj, bytes]:
        for attempt in range(PATCH_RETRIES):
            current = await self.get(resource, namespace, name)
            base = orjson.loads(self._versioned(resource, current))
            held = _hold_managed_fields(base, patch_type, patch)
            patched = apply_patch(resource, base, patch_type, patch)
            if check is not None:
                patched = check(patched)
            if not isinstance(patched, dict):
                raise errors.bad_request("the patch must produce an object")
            obj = self._check_body(resource, patched)
            meta = obj.get("metadata")
            if not isinstance(meta, dict):
                raise errors.bad_request("metadata must be an object")
            if held is not None and "managedFields" not in meta:
                # the stored list itself (same content as `held`): unchanged entries are then seen
                # as unchanged without comparing them
                meta["managedFields"] = current.obj["metadata"].get("managedFields", held)
            if meta.get("name") != name:
                raise errors.bad_request(f"the name of the object ({meta.get('name')}) does not match the name "
                                         f"on the URL ({name})")
            requested_rv = meta.get("resourceVersion")
            if requested_rv and str(requested_rv) != str(current.revision):
                raise errors.conflict(resource.group, resource.plural, name, errors.STALE_OBJECT)
            try:
                return await self._write(resource, current, obj, subresource=subresource, dry_run=dry_run,
                                         manager=manager)
            except errors.APIError as exc:
                if exc.code == 409 and exc.reason == "Conflict" and not pins_version(patch_type, patch) \
                        and attempt < PATCH_RETRIES - 1:
                    continue  # someone wrote in between: re-apply the patch to the new state
                raise
        raise errors.conflict(resource.group, resource.plural, name, errors.STALE_OBJECT)

    async def apply(self, resource: Resource, namespace: str, name: str, config: Any, *, manager: WriteManager,
                    force: bool = False, dry_run: bool = False,
                    check: Callable[[Obj], Obj] | None = None) -> tuple[Obj, bytes, bool]:
        """Server-side apply of `config` by `manager`: returns (object, bytes, created).

        A missing object is created from the configuration (not through a subresource); a write
        that loses a compare-and-swap race is retried on the new state, unless the configuration
        pins a resourceVersion."""
        meta_in = config.get("metadata") if isinstance(config, dict) else None
        pinned = str(meta_in.get("resourceVersion") or "") if isinstance(meta_in, dict) else ""
        if isinstance(meta_in, dict) and resource.namespaced and meta_in.get("namespace") \
                and meta_in["namespace"] != namespace:
            raise errors.bad_request("the namespace of the provided object does not match the namespace "
                                     "sent on the request")
        done = WriteManager(manager.name, manager.subresource, applied=True)
        for attempt in range(PATCH_RETRIES):
            await self.cache.wait_fresh()
            current = self.cache.resource(resource.storage_prefix).items.get(object_key(resource, namespace, name))
            if current is None:
                if manager.subresource:
                    raise errors.not_found(resource.group, resource.plural, name)
                obj = fieldmanager.apply(resource, None, config, manager, force)
                if check is not None:
                    obj = check(obj)
                meta = obj.setdefault("metadata", {})
                if meta.get("name") != name:
                    raise errors.bad_request(f"the name of the object ({meta.get('name') or ''}) does not match the "
                                             f"name on the URL ({name})")
                if meta.get("uid"):
                    raise errors.conflict(resource.group, resource.plural, name,
                                          f"uid mismatch: the provided object specified uid {meta['uid']}, and no "
                                          f"existing object was found")
                try:
                    created, raw = await self.create(resource, namespace, obj, dry_run=dry_run, manager=done)
                except errors.APIError as exc:
                    if exc.reason == "AlreadyExists" and attempt < PATCH_RETRIES - 1:
                        continue  # created in between: apply to it
                    raise
                return created, raw, True
            live = orjson.loads(self._versioned(resource, current))
            obj = self._check_body(resource, fieldmanager.apply(resource, live, config, manager, force))
            if check is not None:
                obj = check(obj)
            meta = obj["metadata"]
            if meta.get("name") != name:
                raise errors.bad_request(f"the name of the object ({meta.get('name')}) does not match the name "
                                         f"on the URL ({name})")
            if pinned and pinned != str(current.revision):
                raise errors.conflict(resource.group, resource.plural, name, errors.STALE_OBJECT)
            try:
                written, raw = await self._write(resource, current, obj, subresource=manager.subresource,
                                                 dry_run=dry_run, manager=done)
            except errors.APIError as exc:
                if exc.code == 409 and exc.reason == "Conflict" and not pinned and attempt < PATCH_RETRIES - 1:
                    continue  # someone wrote in between: apply again to the new state
                raise
            return written, raw, False
        raise errors.conflict(resource.group, resource.plural, name, errors.STALE_OBJECT)

    async def _write(self, resource: Resource, current: CachedObject, obj: Obj, *, subresource: str,
                     dry_run: bool, manager: WriteManager | None = None) -> tuple[Obj, bytes]:
        old = current.obj
        old_meta = old["metadata"]
        meta = obj["metadata"]
        sent_managed_fields = meta.get("managedFields")
        if subresource == "status":
            # the status path changes status only
            new = {**old, "status": obj.get("status", {})}
            new["metadata"] = dict(old_meta)
            obj = new
            meta = obj["metadata"]
        elif subresource == "ephemeralcontainers":
            # the ephemeralcontainers path changes spec.ephemeralContainers only
            obj = only_ephemeral_containers(obj, old)
            meta = obj["metadata"]
            if resource.generation and spec_of(obj) != spec_of(old):
                meta["generation"] = int(old_meta.get("generation", 1)) + 1
        else:
            # identity and bookkeeping fields always come from the stored object
            for field in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                          "generation", "selfLink"):
                if field in old_meta:
                    meta[field] = old_meta[field]
                else:
                    meta.pop(field, None)
            if resource.has_status():
                if "status" in old:
                    obj["status"] = old["status"]
                else:
                    obj.pop("status", None)
            strategy_for(resource).prepare_for_update(obj, old)
            if resource.generation and spec_of(obj) != spec_of(old):
                meta["generation"] = int(old_meta.get("generation", 1)) + 1
        meta["resourceVersion"] = old_meta.get("resourceVersion")
        fieldmanager.track_update(resource, old, obj, manager, sent_managed_fields)
        admission.validate_update(resource, obj, old, subresource)
        if obj == old:
            return old, current.raw  # nothing changed: no write, no event, as upstream
        hooks = self.write_hooks.get((resource.group, resource.kind)) if subresource != "status" else None
        finish = await hooks.begin_update(obj, old, dry_run) if hooks is not None else None
        try:
            written = await self._store_write(resource, current, obj, dry_run)
        except BaseException:
            if finish is not None:
                await finish(False)
            raise
        if finish is not None:
            await finish(not dry_run)
        return written

    async def _store_write(self, resource: Resource, current: CachedObject, obj: Obj, dry_run: bool
                           ) -> tuple[Obj, bytes]:
        meta = obj["metadata"]
        if meta.get("deletionTimestamp") and not meta.get("finalizers") and \
                strategy_for(resource).can_remove(obj) and not dry_run:
            # the last finalizer is gone: the object leaves storage now
            await self._remove(resource, current, obj)
            return obj, orjson.dumps(obj)
        if dry_run:
            return obj, orjson.dumps(obj)
        await self.compare_and_swap(resource, current, obj)
        return obj, orjson.dumps(obj)

    async def compare_and_swap(self, resource: Resource, current: CachedObject, obj: Obj) -> None:
        """Store `obj` over `current` if nobody wrote in between; stamps its new resourceVersion."""
        meta = obj["metadata"]
        meta.pop("resourceVersion", None)
        try:
            kv = await self.store.update(current.key, orjson.dumps(obj), current.revision)
        except RevisionConflict:
            raise errors.conflict(resource.group, resource.plural, meta.get("name", ""), errors.STALE_OBJECT) \
                from None
        except KeyNotFound:
            raise errors.not_found(resource.group, resource.plural, meta.get("name", "")) from None
        meta["resourceVersion"] = str(kv.mod_revision)

    async def _remove(self, resource: Resource, current: CachedObject, obj: Obj) -> int:
        try:
            kv = await self.store.delete(current.key, current.revision)
        except RevisionConflict:
            raise errors.conflict(resource.group, resource.plural, obj["metadata"].get("name", ""),
                                  errors.STALE_OBJECT) from None
        except KeyNotFound:
            raise errors.not_found(resource.group, resource.plural, obj["metadata"].get("name", "")) from None
        obj["metadata"]["resourceVersion"] = str(kv.mod_revision)
        hooks = self.write_hooks.get((resource.group, resource.kind))
        if hooks is not None:
            await hooks.after_delete(obj)
        return kv.mod_revision

    # ----------------------------------------------------------------- delete
    async def delete(self, resource: Resource, namespace: str, name: str, opts: DeleteOptions) -> tuple[Obj, bool]:
        """Returns (object, gone): gone is False when the object lives on, marked for deletion.

        A write that lands between our read and our compare-and-swap is not the client's
        problem unless it pinned a resourceVersion: the delete is worked out again, as upstream."""
        for attempt in range(PATCH_RETRIES):
            try:
                return await self._delete_once(resource, namespace, name, opts)
            except errors.APIError as exc:
                stale = exc.code == 409 and exc.message.endswith(errors.STALE_OBJECT)
                if not stale or opts.precondition_rv or attempt == PATCH_RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    async def _delete_once(self, resource: Resource, namespace: str, name: str, opts: DeleteOptions
                           ) -> tuple[Obj, bool]:
        current = await self.get(resource, namespace, name)
        obj = orjson.loads(current.raw)
        meta = obj["metadata"]
        if opts.precondition_uid and opts.precondition_uid != meta.get("uid"):
            raise errors.conflict(resource.group, resource.plural, name,
                                  f"Precondition failed: UID in precondition: {opts.precondition_uid}, "
                                  f"UID in object meta: {meta.get('uid')}")
        if opts.precondition_rv and opts.precondition_rv != meta.get("resourceVersion"):
            raise errors.conflict(resource.group, resource.plural, name,
                                  f"Precondition failed: ResourceVersion in precondition: {opts.precondition_rv}, "
                                  f"ResourceVersion in object meta: {meta.get('resourceVersion')}")
        strategy = strategy_for(resource)
        finalizers = list(meta.get("finalizers") or [])
        if opts.propagation == "Foreground" and "foregroundDeletion" not in finalizers:
            finalizers = [f for f in finalizers if f != "orphan"] + ["foregroundDeletion"]
        elif opts.propagation == "Orphan" and "orphan" not in finalizers:
            finalizers = [f for f in finalizers if f != "foregroundDeletion"] + ["orphan"]
        elif opts.propagation == "Background":
            finalizers = [f for f in finalizers if f not in ("orphan", "foregroundDeletion")]
        already = bool(meta.get("deletionTimestamp"))
        current_grace = int(meta.get("deletionGracePeriodSeconds") or 0)
        grace = strategy.grace_period(obj, opts.grace_period)
        if finalizers or grace > 0 or not strategy.can_remove(obj):
            # the object lives on, marked for deletion, until its grace period ends or its
            # finalizers are gone; a second delete may only shorten the grace period
            if already and grace >= current_grace and finalizers == list(meta.get("finalizers") or []):
                return obj, False
            if not already or grace < current_grace:
                meta["deletionTimestamp"] = rfc3339(now() + datetime.timedelta(seconds=grace))
            meta["deletionGracePeriodSeconds"] = grace
            if finalizers:
                meta["finalizers"] = finalizers
            strategy.on_delete_requested(obj)
            if opts.dry_run:
                return obj, False
            await self.compare_and_swap(resource, current, obj)
            return obj, False
        if opts.dry_run:
            return obj, True
        await self._remove(resource, current, obj)
        return obj, True

    async def finalize_namespace(self, name: str, finalizers: list[str], *, dry_run: bool = False
                                 ) -> tuple[Obj, bytes]:
        """The namespaces/finalize subresource: the only way to change spec.finalizers."""
        resource = self.catalog.lookup("", "v1", "namespaces")
        assert resource is not None
        current = await self.get(resource, "", name)
        obj = orjson.loads(current.raw)
        obj.setdefault("spec", {})["finalizers"] = finalizers
        meta = obj["metadata"]
        if meta.get("deletionTimestamp") and not finalizers and not meta.get("finalizers"):
            if not dry_run:
                await self._remove(resource, current, obj)
            return obj, orjson.dumps(obj)
        if dry_run:
            return obj, orjson.dumps(obj)
        await self.compare_and_swap(resource, current, obj)
        return obj, orjson.dumps(obj)

    async def ensure(self, resource: Resource, obj: Obj) -> None:
        """Create `obj` unless it exists (used for the namespaces every cluster has)."""
        meta = obj["metadata"]
        await self.cache.wait_fresh()
        key = object_key(resource, meta.get("namespace", ""), meta["name"])
        if key in self.cache.resource(resource.storage_prefix).items:
            return
        try:
            await self.create(resource, meta.get("namespace", ""), obj, manager=WriteManager("kube-apiserver"))
        except errors.APIError as exc:
            if exc.code != 409:
                raise

    # ----------------------------------------------------------------- continue tokens
    @staticmethod
    def encode_continue(revision: int, last_key: str, prefix: str) -> str:
        token = {"v": "meta.k8s.io/v1", "rv": revision, "start": last_key[len(prefix):] + "\x00"}
        return base64.urlsafe_b64encode(orjson.dumps(token)).decode().rstrip("=")

    @staticmethod
    def decode_continue(token: str, prefix: str) -> tuple[int, str]:
        try:
            padded = token + "=" * (-len(token) % 4)
            data = orjson.loads(base64.urlsafe_b64decode(padded))
            revision = int(data["rv"])
            start = str(data["start"])
            if data.get("v") != "meta.k8s.io/v1" or revision <= 0:
                raise ValueError("bad version")
        except Exception as exc:
            raise errors.bad_request(f"continue key is not valid: {exc}") from exc
        # the token stores the key after the prefix plus a NUL: resume strictly after it
        return revision, prefix + start.rstrip("\x00")


def only_ephemeral_containers(sent: Obj, old: Obj) -> Obj:
    """The stored pod with the sent `spec.ephemeralContainers` (defaulted as any container is)
    and nothing else of what was sent (upstream's dropNonEphemeralContainerUpdates)."""
    spec = sent.get("spec")
    containers = spec.get("ephemeralContainers") if isinstance(spec, dict) else None
    new = {**old, "metadata": dict(old["metadata"]), "spec": dict(old.get("spec") or {})}
    if containers:
        holder = {"ephemeralContainers": copy.deepcopy(containers)}
        default_pod_spec(holder)
        new["spec"]["ephemeralContainers"] = holder["ephemeralContainers"]
    else:
        new["spec"].pop("ephemeralContainers", None)
    return new


def apply_patch(resource: Resource, base: Obj, patch_type: str, patch: Any) -> Any:
    """Apply a patch of `patch_type` ("merge", "json" or "strategic") to `base`; 4xx on bad patches."""
    try:
        if patch_type == "merge":
            return merge_patch(base, patch)
        if patch_type == "json":
            return json_patch(base, patch)
        return strategic_merge_patch(base, patch, kind_schema(resource.group, resource.version, resource.kind))
    except PatchError as exc:
        raise APIErrorFromPatch(str(exc)) from exc
    except StrategicPatchError as exc:
        raise errors.APIError(exc.code, exc.reason, exc.status_message) from exc


def _hold_managed_fields(base: Obj, patch_type: str, patch: Any) -> Any:
    """Take managedFields out of `base` while a patch that does not touch them is applied.

    They are half of a typical object's size and no patch of other fields reads them; the caller
    puts them back (a patch that drops them would get the live ones back anyway, as upstream
    falls back to the live managedFields when a request carries none)."""
    meta = base.get("metadata")
    if not isinstance(meta, dict) or "managedFields" not in meta:
        return None
    if patch_type == "json":
        if not isinstance(patch, list):
            return None
        for op in patch:
            for key in ("path", "from"):
                where = op.get(key) if isinstance(op, dict) else None
                if isinstance(where, str) and (where in ("", "/", "/metadata") or where.startswith("/metadata/managedFields")):
                    return None
    elif isinstance(patch, dict):
        patch_meta = patch.get("metadata")
        if isinstance(patch_meta, dict) and "managedFields" in patch_meta:
            return None
    return meta.pop("managedFields")


def pins_version(patch_type: str, patch: Any) -> bool:
    """Whether the patch itself names a resourceVersion (then a conflict is the client's to handle)."""
    if patch_type in ("merge", "strategic"):
        return isinstance(patch, dict) and "resourceVersion" in (patch.get("metadata") or {})
    return isinstance(patch, list) and any(isinstance(op, dict) and op.get("path") == "/metadata/resourceVersion"
                                           for op in patch)


class APIErrorFromPatch(errors.APIError):
    def __init__(self, message: str) -> None:
        super().__init__(422, "Invalid", message)
