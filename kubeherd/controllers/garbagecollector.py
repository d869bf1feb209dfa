"""Garbage collector: objects whose owners are all gone are deleted; deletion propagates as asked.

The ownerReference graph is not a separate structure here: every deletable resource that
discovery lists gets an informer (shared with other controllers where they watch the same
resource), each cache is indexed by owner uid, and a uid → (resource, key) map finds an owner's
cached state. The queue holds object uids; `sync(uid)` reads that object from its cache and
decides, from the graph as it is now, what the object needs:

- being deleted with the `orphan` finalizer: remove this owner from every dependent's
  ownerReferences, then drop the finalizer;
- being deleted with the `foregroundDeletion` finalizer: queue the dependents (they see an owner
  "waiting for dependents" and delete themselves), and drop the finalizer once no dependent with
  `blockOwnerDeletion: true` is left;
- otherwise, with ownerReferences: classify each owner as solid, dangling (absent, or the name now
  belongs to another uid) or waiting (being foreground-deleted). A solid owner keeps the object
  (dangling and waiting references are removed from it); without one the object is deleted —
  with foreground propagation when a waiting owner needs its own dependents gone first.

Caches only hint that an owner is absent: absence is confirmed with a live GET (remembered in a
small cache; uids are never reused) before anything is deleted, and deletes carry the object's
uid and resourceVersion as preconditions, so a stale cache can delay work but never cause a
wrong delete. Discovery is re-read every 30 s so resources added later (CRDs) are collected too;
Event objects are not monitored, as upstream leaves them out. The only Event the collector writes
is upstream's `OwnerRefInvalidNamespace`, on a dependent naming an owner that lives in another
namespace (such a reference is dangling: owners are looked up in the dependent's namespace).
A cluster-scoped object naming a namespaced owner is left alone, as upstream does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from kubeherd.client import APIStatusError, ResourceRef, object_key
from kubeherd.client.discovery import discover
from kubeherd.client.informer import Informer, index_by_owner_uid
from kubeherd.controllers.base import Context, Controller

log = logging.getLogger(__name__)

Obj = dict[str, Any]

FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"
OWNER_INDEX = "garbagecollector:owner-uid"
# What upstream's collector leaves alone by default.
IGNORED_RESOURCES = frozenset({("", "events"), ("events.k8s.io", "events")})
DISCOVERY_PERIOD = 30.0
INITIAL_SYNC_TIMEOUT = 60.0
ABSENT_OWNER_CACHE_SIZE = 500
CONFLICT_RETRIES = 5


# ------------------------------------------------------------------------------------ helpers
def _meta(obj: Obj) -> Obj:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _owner_refs(obj: Obj) -> list[Obj]:
    return [r for r in _meta(obj).get("ownerReferences") or [] if isinstance(r, dict)]


def _group(api_version: str) -> str:
    return api_version.rpartition("/")[0]


def _deleting_dependents(obj: Obj) -> bool:
    meta = _meta(obj)
    return bool(meta.get("deletionTimestamp")) and FOREGROUND in (meta.get("finalizers") or [])


def _describe(ref: Obj, namespace: str) -> str:
    """An owner reference as upstream's collector prints one in events and logs."""
    return (f"[{ref.get('apiVersion', '')}/{ref.get('kind', '')}, namespace: {namespace}, "
            f"name: {ref.get('name', '')}, uid: {ref.get('uid', '')}]")


class UnknownOwnerKind(Exception):
    """An ownerReference names a kind discovery does not (yet) know; retried later."""


class GarbageCollector(Controller):
    name = "garbagecollector"
    workers = 10

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.monitors: dict[ResourceRef, Informer] = {}
        self.kinds: dict[tuple[str, str], ResourceRef] = {}
        self.uids: dict[str, tuple[ResourceRef, str]] = {}
        self.absent: OrderedDict[tuple[str, ...], None] = OrderedDict()

    # --- monitors: one informer per deletable resource, found by discovery
    async def sync_monitors(self) -> bool:
        """Start monitoring whatever discovery lists that is not monitored yet."""
        found = await discover(self.client)
        for res in found.resources:
            ref = res.ref
            self.kinds[(ref.group, ref.kind)] = ref
            if {"delete", "list", "watch"} <= res.verbs and (ref.group, ref.plural) not in IGNORED_RESOURCES:
                self._monitor(ref)
        if found.failed:
            log.info("garbage collector: %s", found.failure_message())
        return bool(found.resources)

    def _monitor(self, ref: ResourceRef) -> None:
        if ref in self.monitors:
            return
        informer = self.informer(ref)
        informer.indexer.add_indexer(OWNER_INDEX, index_by_owner_uid)
        self.monitors[ref] = informer
        informer.add_handlers(on_add=lambda obj: self._observed(ref, None, obj),
                              on_update=lambda old, new: self._observed(ref, old, new),
                              on_delete=lambda obj: self._gone(ref, obj))

    async def run(self) -> None:
        while True:
            try:
                if await self.sync_monitors():
                    break
            except (APIStatusError, OSError) as exc:
                log.info("garbage collector: discovery failed: %s", exc)
            await asyncio.sleep(1.0)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(i.synced.wait() for i in self.monitors.values())),
                                   INITIAL_SYNC_TIMEOUT)
        resync = asyncio.get_running_loop().create_task(self._resync())
        try:
            await super().run()
        finally:
            resync.cancel()
            with contextlib.suppress(BaseException):
                await resync

    async def _resync(self) -> None:
        while True:
            await asyncio.sleep(DISCOVERY_PERIOD)
            try:
                await self.sync_monitors()
            except (APIStatusError, OSError) as exc:
                log.info("garbage collector: discovery failed: %s", exc)

    # --- graph changes: only decide which uids to look at
    def _observed(self, ref: ResourceRef, old: Obj | None, new: Obj) -> None:
        meta = _meta(new)
        uid = meta.get("uid")
        if not uid:
            return
        self.uids[uid] = (ref, object_key(new))
        if old is None:
            if meta.get("ownerReferences") or meta.get("deletionTimestamp"):
                self.queue.add(uid)
            return
        old_meta = _meta(old)
        before = {r.get("uid"): r for r in _owner_refs(old)}
        after = {r.get("uid"): r for r in _owner_refs(new)}
        if before != after:
            self.queue.add(uid)
            for owner_uid, r in before.items():
                # an owner waiting for its blocking dependents may be free now
                if r.get("blockOwnerDeletion") and owner_uid and not (after.get(owner_uid) or {}).get(
                        "blockOwnerDeletion"):
                    self.queue.add(owner_uid)
        if meta.get("deletionTimestamp") and (not old_meta.get("deletionTimestamp")
                                              or meta.get("finalizers") != old_meta.get("finalizers")):
            self.queue.add(uid)

    def _gone(self, ref: ResourceRef, obj: Obj) -> None:
        uid = _meta(obj).get("uid")
        if not uid:
            return
        if self.uids.get(uid) == (ref, object_key(obj)):
            del self.uids[uid]
        for _, dependent in self.dependents(uid):
            self.queue.add(_meta(dependent)["uid"])
        for owner in _owner_refs(obj):
            if owner.get("uid"):
                self.queue.add(owner["uid"])

    def dependents(self, uid: str) -> list[tuple[ResourceRef, Obj]]:
        return [(ref, dep) for ref, informer in self.monitors.items()
                for dep in informer.indexer.by_index(OWNER_INDEX, uid) if _meta(dep).get("uid")]

    def _cached(self, uid: str) -> tuple[ResourceRef, Obj] | None:
        located = self.uids.get(uid)
        if located is None:
            return None
        ref, key = located
        informer = self.monitors.get(ref)
        obj = informer.indexer.get(key) if informer is not None else None
        if obj is None or _meta(obj).get("uid") != uid:
            return None
        return ref, obj

    # --- reconcile one object
    async def sync(self, key: str) -> None:
        found = self._cached(key)
        if found is None:
            return
        ref, obj = found
        meta = _meta(obj)
        if meta.get("deletionTimestamp"):
            finalizers = meta.get("finalizers") or []
            if ORPHAN in finalizers:
                await self._orphan_dependents(ref, obj)
            elif FOREGROUND in finalizers:
                await self._process_deleting_dependents(ref, obj)
            return  # otherwise its deletion is under way; its dependents are looked at once it is gone
        if _owner_refs(obj):
            await self._attempt_to_delete(ref, obj)

    async def _attempt_to_delete(self, ref: ResourceRef, obj: Obj) -> None:
        meta = _meta(obj)
        namespace = meta.get("namespace") or ""
        solid: list[Obj] = []
        dangling: list[Obj] = []
        waiting: list[Obj] = []
        for owner_ref in _owner_refs(obj):
            owner_resource = self.kinds.get((_group(str(owner_ref.get("apiVersion", ""))),
                                             str(owner_ref.get("kind", ""))))
            if owner_resource is None:
                raise UnknownOwnerKind(f"unable to map {owner_ref.get('apiVersion')}/{owner_ref.get('kind')} "
                                       f"(owner of {ref.plural} {object_key(obj)}) to a resource")
            if owner_resource.namespaced and not namespace:
                log.info("garbage collector: cluster-scoped %s %s refers to a namespaced owner %s; ignored",
                         ref.plural, meta.get("name"), _describe(owner_ref, ""))
                return  # never resolves; upstream leaves such objects alone
            owner = await self._owner(owner_resource, owner_ref, namespace if owner_resource.namespaced else "",
                                      obj)
            if owner is None:
                dangling.append(owner_ref)
            elif _deleting_dependents(owner):
                waiting.append(owner_ref)
            else:
                solid.append(owner_ref)
        if solid:
            gone = {r.get("uid") for r in dangling + waiting}
            if gone:
                await self._patch_owner_refs(ref, obj, lambda refs: [r for r in refs if r.get("uid") not in gone])
            return
        if waiting and self.dependents(meta["uid"]):
            if any(_deleting_dependents(dep) for _, dep in self.dependents(meta["uid"])):
                # an owner and a dependent both wait for dependents: unblock ours so no cycle forms
                await self._patch_owner_refs(ref, obj, lambda refs: [
                    {**r, "blockOwnerDeletion": False} if r.get("blockOwnerDeletion") else r for r in refs])
            await self._delete(ref, obj, "Foreground")
            return
        finalizers = meta.get("finalizers") or []
        policy = "Orphan" if ORPHAN in finalizers else "Foreground" if FOREGROUND in finalizers else "Background"
        await self._delete(ref, obj, policy)

    async def _owner(self, resource: ResourceRef, owner_ref: Obj, namespace: str, dependent: Obj) -> Obj | None:
        """The owner's current state, or None when it does not exist (as the reference names it)."""
        uid = str(owner_ref.get("uid", ""))
        absent_key = (uid, str(owner_ref.get("apiVersion", "")), str(owner_ref.get("kind", "")),
                      str(owner_ref.get("name", "")), namespace)
        if absent_key in self.absent:
            self.absent.move_to_end(absent_key)
            return None
        cached = self._cached(uid)
        if cached is not None:
            owner = cached[1]
            owner_meta = _meta(owner)
            owner_ns = owner_meta.get("namespace") or ""
            if owner_ns and owner_ns != namespace:
                dep_ns = _meta(dependent).get("namespace") or ""
                self.recorder.record(dependent, "Warning", "OwnerRefInvalidNamespace",
                                     f"ownerRef {_describe(owner_ref, dep_ns)} does not exist in namespace "
                                     f'"{dep_ns}"')
            elif (owner_meta.get("name") == owner_ref.get("name") and owner.get("kind") == owner_ref.get("kind")
                  and _group(str(owner.get("apiVersion", ""))) == _group(str(owner_ref.get("apiVersion", "")))):
                return owner
        try:
            live = await self.client.get(resource, str(owner_ref.get("name", "")), namespace)
        except APIStatusError as exc:
            if exc.code != 404:
                raise
            live = None
        if live is None or _meta(live).get("uid") != uid:
            self.absent[absent_key] = None
            if len(self.absent) > ABSENT_OWNER_CACHE_SIZE:
                self.absent.popitem(last=False)
            return None
        return live

    async def _process_deleting_dependents(self, ref: ResourceRef, owner: Obj) -> None:
        uid = _meta(owner)["uid"]
        dependents = self.dependents(uid)
        blocking = [dep for _, dep in dependents
                    if any(r.get("uid") == uid and r.get("blockOwnerDeletion") for r in _owner_refs(dep))]
        if not blocking:
            await self._remove_finalizer(ref, owner, FOREGROUND)
            return
        for _, dep in dependents:
            if not _meta(dep).get("deletionTimestamp") or _deleting_dependents(dep):
                self.queue.add(_meta(dep)["uid"])

    async def _orphan_dependents(self, ref: ResourceRef, owner: Obj) -> None:
        uid = _meta(owner)["uid"]
        results = await asyncio.gather(*(
            self._patch_owner_refs(dep_ref, dep, lambda refs: [r for r in refs if r.get("uid") != uid])
            for dep_ref, dep in self.dependents(uid)), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        await self._remove_finalizer(ref, owner, ORPHAN)

    # --- writes: every one conditional on the state it was computed from
    async def _delete(self, ref: ResourceRef, obj: Obj, policy: str) -> None:
        meta = _meta(obj)
        name, namespace = meta["name"], meta.get("namespace") or ""
        preconditions = {"uid": meta["uid"], "resourceVersion": meta.get("resourceVersion")}
        try:
            await self.client.delete(ref, name, namespace, propagation=policy, preconditions=preconditions)
            return
        except APIStatusError as exc:
            if exc.code == 404:
                return
            if exc.code != 409:
                raise
        # the cache was behind: delete anyway only if what made it garbage has not changed
        try:
            live = await self.client.get(ref, name, namespace)
        except APIStatusError as exc:
            if exc.code == 404:
                return
            raise
        live_meta = _meta(live)
        if live_meta.get("uid") != meta["uid"] or live_meta.get("deletionTimestamp"):
            return
        if _owner_refs(live) != _owner_refs(obj):
            raise RuntimeError(f"ownerReferences of {ref.plural} {object_key(obj)} changed; looking again")
        try:
            await self.client.delete(ref, name, namespace, propagation=policy, preconditions={
                "uid": meta["uid"], "resourceVersion": live_meta.get("resourceVersion")})
        except APIStatusError as exc:
            if exc.code != 404:
                raise

    async def _patch_owner_refs(self, ref: ResourceRef, obj: Obj,
                                change: Callable[[list[Obj]], list[Obj]]) -> None:
        await self._patch_meta(ref, obj, "ownerReferences", lambda o: change(_owner_refs(o)))

    async def _remove_finalizer(self, ref: ResourceRef, obj: Obj, finalizer: str) -> None:
        await self._patch_meta(ref, obj, "finalizers",
                               lambda o: [f for f in _meta(o).get("finalizers") or [] if f != finalizer])

    async def _patch_meta(self, ref: ResourceRef, obj: Obj, field_name: str, compute: Callable[[Obj], Any]) -> None:
        """Set one metadata list to compute(current), compare-and-swap on resourceVersion, re-reading on conflict."""
        uid = _meta(obj)["uid"]
        name, namespace = _meta(obj)["name"], _meta(obj).get("namespace") or ""
        current = obj
        for _ in range(CONFLICT_RETRIES):
            wanted = compute(current)
            if wanted == (_meta(current).get(field_name) or []):
                return
            patch = {"metadata": {field_name: wanted or None, "resourceVersion": _meta(current).get("resourceVersion")}}
            try:
                await self.client.patch(ref, name, patch, namespace)
                return
            except APIStatusError as exc:
                if exc.code == 404:
                    return
                if exc.code != 409:
                    raise
            try:
                current = await self.client.get(ref, name, namespace)
            except APIStatusError as exc:
                if exc.code == 404:
                    return
                raise
            if _meta(current).get("uid") != uid:
                return
        raise RuntimeError(f"{ref.plural} {object_key(obj)}: {field_name} kept changing; retrying later")
