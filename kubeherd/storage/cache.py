"""The watch cache: every resource's current state in memory, and a window of recent events.

The apiserver serves every read from here, never from the datastore. One watch on the whole
store feeds it; each event is decoded once, stamped with its `resourceVersion` and encoded once,
so lists and watches hand out the same bytes to every client without re-encoding.

A resumed watch is served from the event window kept per resource; a resource version older
than the window is answered with `TooOld` (the apiserver turns it into 410 Gone, `Expired`).
Pods are indexed by namespace and by `spec.nodeName`, since every kubelet watches its own pods.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from kubeherd.storage.interface import Event, Store

log = logging.getLogger(__name__)

DEFAULT_WINDOW = 5_000
MAX_PENDING = 50_000  # a watcher further behind than this is closed; it will re-watch


@dataclass(slots=True)
class CachedObject:
    """An object as stored, with `metadata.resourceVersion` set; never mutated once built."""

    key: str
    obj: dict[str, Any]
    raw: bytes
    revision: int

    @property
    def namespace(self) -> str:
        return str(self.obj.get("metadata", {}).get("namespace", ""))


@dataclass(slots=True)
class CacheEvent:
    type: str  # ADDED, MODIFIED, DELETED
    revision: int
    current: CachedObject  # for DELETED: the last state, stamped with the delete's revision
    previous: CachedObject | None


Predicate = Callable[[CachedObject], bool]


class TooOld(Exception):
    def __init__(self, requested: int, oldest: int) -> None:
        super().__init__(f"too old resource version: {requested} ({oldest})")
        self.requested = requested
        self.oldest = oldest


@dataclass(eq=False)
class Watcher:
    """One client's watch: a queue of (type, object) filtered by the client's predicate."""

    predicate: Predicate
    namespace: str = ""
    queue: asyncio.Queue[tuple[str, CachedObject] | None] = field(default_factory=asyncio.Queue)
    closed: bool = False

    def offer(self, event: CacheEvent) -> None:
        if self.closed:
            return
        if self.namespace:
            ns = event.current.namespace
            if ns != self.namespace:
                return
        now = self.predicate(event.current) if event.type != "DELETED" else False
        before = event.previous is not None and self.predicate(event.previous)
        if event.type == "DELETED":
            before = self.predicate(event.current)
            if before:
                self._put(("DELETED", event.current))
            return
        if now and before:
            self._put(("MODIFIED", event.current))
        elif now:
            self._put(("ADDED", event.current))
        elif before:
            # The object stopped matching: to this watcher it is gone.
            self._put(("DELETED", _restamp(event.previous, event.revision)))  # type: ignore[arg-type]

    def _put(self, item: tuple[str, CachedObject]) -> None:
        if self.queue.qsize() >= MAX_PENDING:
            self.close()
            return
        self.queue.put_nowait(item)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.queue.put_nowait(None)


def _restamp(cached: CachedObject, revision: int) -> CachedObject:
    obj = dict(cached.obj)
    meta = dict(obj.get("metadata", {}))
    meta["resourceVersion"] = str(revision)
    obj["metadata"] = meta
    return CachedObject(cached.key, obj, orjson.dumps(obj), revision)


def decode(key: str, value: bytes, revision: int) -> CachedObject:
    obj = orjson.loads(value)
    obj.setdefault("metadata", {})["resourceVersion"] = str(revision)
    return CachedObject(key, obj, orjson.dumps(obj), revision)


class ResourceCache:
    """The state and recent events of one resource (one storage prefix)."""

    def __init__(self, prefix: str, window: int, index_node: bool = False) -> None:
        self.prefix = prefix
        self.items: dict[str, CachedObject] = {}
        self.by_namespace: dict[str, dict[str, CachedObject]] = {}
        self.by_node: dict[str, dict[str, CachedObject]] | None = {} if index_node else None
        self.events: deque[CacheEvent] = deque(maxlen=window)
        self.watchers: set[Watcher] = set()
        self._sorted: list[str] | None = None
        # Resource versions at or above this one can be resumed from the window.
        self.oldest_resumable = 0

    def _index(self, cached: CachedObject) -> None:
        self.by_namespace.setdefault(cached.namespace, {})[cached.key] = cached
        if self.by_node is not None:
            node = cached.obj.get("spec", {}).get("nodeName") or ""
            self.by_node.setdefault(node, {})[cached.key] = cached

    def _unindex(self, cached: CachedObject) -> None:
        bucket = self.by_namespace.get(cached.namespace)
        if bucket is not None:
            bucket.pop(cached.key, None)
            if not bucket:
                del self.by_namespace[cached.namespace]
        if self.by_node is not None:
            node = cached.obj.get("spec", {}).get("nodeName") or ""
            nodes = self.by_node.get(node)
            if nodes is not None:
                nodes.pop(cached.key, None)
                if not nodes:
                    del self.by_node[node]

    def load(self, cached: CachedObject) -> None:
        self.items[cached.key] = cached
        self._index(cached)
        self._sorted = None

    def apply(self, event: Event) -> CacheEvent:
        key = event.kv.key
        previous = self.items.get(key)
        if event.type == "DELETED":
            current = decode(key, event.kv.value, event.kv.mod_revision)
            if previous is not None:
                self._unindex(previous)
            self.items.pop(key, None)
            self._sorted = None
        else:
            current = decode(key, event.kv.value, event.kv.mod_revision)
            if previous is not None:
                self._unindex(previous)
            else:
                self._sorted = None
            self.items[key] = current
            self._index(current)
        cache_event = CacheEvent(event.type, event.kv.mod_revision, current, previous)
        if len(self.events) == self.events.maxlen and self.events:
            self.oldest_resumable = self.events[0].revision
        self.events.append(cache_event)
        for watcher in list(self.watchers):
            watcher.offer(cache_event)
            if watcher.closed:
                self.watchers.discard(watcher)
        return cache_event

    def sorted_keys(self) -> list[str]:
        if self._sorted is None:
            self._sorted = sorted(self.items)
        return self._sorted

    def select(self, namespace: str = "", node: str | None = None) -> Iterable[CachedObject]:
        """Candidates for a list, narrowed by the indexes, in key order."""
        if node is not None and self.by_node is not None:
            bucket = self.by_node.get(node, {})
            candidates = [c for c in bucket.values() if not namespace or c.namespace == namespace]
            return sorted(candidates, key=lambda c: c.key)
        if namespace:
            bucket = self.by_namespace.get(namespace, {})
            return [bucket[k] for k in sorted(bucket)]
        return [self.items[k] for k in self.sorted_keys()]

    def events_since(self, revision: int) -> list[CacheEvent]:
        """Events with revision > `revision`, or TooOld if the window no longer reaches back."""
        if revision < self.oldest_resumable:
            raise TooOld(revision, self.oldest_resumable)
        if not self.events or self.events[-1].revision <= revision:
            return []
        # events are in revision order: binary search for the first one after `revision`
        lo, hi = 0, len(self.events)
        while lo < hi:
            mid = (lo + hi) // 2
            if self.events[mid].revision <= revision:
                lo = mid + 1
            else:
                hi = mid
        return [self.events[i] for i in range(lo, len(self.events))]


class WatchCache:
    """Feeds one ResourceCache per storage prefix from a single watch on the store."""

    def __init__(self, store: Store, prefixes: Iterable[str], window: int = DEFAULT_WINDOW,
                 node_indexed: Iterable[str] = ()) -> None:
        self.store = store
        indexed = set(node_indexed)
        self.resources = {p: ResourceCache(p, window, p in indexed) for p in prefixes}
        self.revision = 0
        self._task: asyncio.Task[None] | None = None
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self.ready = asyncio.Event()
        self.failed: BaseException | None = None

    async def start(self) -> None:
        # Nothing writes before the cache is ready (the apiserver serves only after this), so
        # reading each prefix at the latest revision gives one consistent state.
        for prefix, resource in self.resources.items():
            result = await self.store.list(prefix)
            for kv in result.items:
                resource.load(decode(kv.key, kv.value, kv.mod_revision))
            self.revision = max(self.revision, result.revision)
        # Everything was read at or before self.revision; events after it fill in the rest.
        start = self.revision
        for resource in self.resources.values():
            resource.oldest_resumable = start
        self._task = asyncio.get_running_loop().create_task(self._run(start + 1))
        self.ready.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
        for resource in self.resources.values():
            for watcher in list(resource.watchers):
                watcher.close()
            resource.watchers.clear()

    def resource(self, prefix: str) -> ResourceCache:
        return self.resources[prefix]

    def _prefix_of(self, key: str) -> str | None:
        # keys are /registry/<group>/<resource>/...: the prefix is the first three segments
        parts = key.split("/", 4)
        if len(parts) < 4:
            return None
        prefix = "/".join(parts[:4]) + "/"
        return prefix if prefix in self.resources else None

    async def _run(self, start: int) -> None:
        try:
            async for event in self.store.watch("/registry/", start):
                revision = event.kv.mod_revision
                prefix = self._prefix_of(event.kv.key)
                if prefix is not None:
                    self.resources[prefix].apply(event)
                self.revision = revision
                self._wake()
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # the cache is useless without its feed: make it visible
            log.exception("watch cache feed stopped")
            self.failed = exc
            raise

    def _wake(self) -> None:
        if not self._waiters:
            return
        keep = []
        for revision, future in self._waiters:
            if revision <= self.revision:
                if not future.done():
                    future.set_result(None)
            else:
                keep.append((revision, future))
        self._waiters = keep

    async def wait_for(self, revision: int, timeout: float = 10.0) -> None:
        """Return once the cache has applied every write up to `revision`."""
        if revision <= self.revision:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((revision, future))
        await asyncio.wait_for(future, timeout)

    async def wait_fresh(self) -> None:
        """Read-your-writes: wait until the cache reflects every acknowledged write."""
        await self.wait_for(self.store.current_revision())

    def watch(self, prefix: str, since: int, predicate: Predicate, namespace: str = "") -> tuple[Watcher, list[CacheEvent]]:
        """Register a watcher for events after `since`; returns it and the backlog to replay first.

        Registering and reading the backlog happen with no await in between, so no event is
        missed or delivered twice."""
        resource = self.resources[prefix]
        backlog = resource.events_since(since)
        watcher = Watcher(predicate, namespace)
        resource.watchers.add(watcher)
        return watcher, backlog

    def unwatch(self, prefix: str, watcher: Watcher) -> None:
        self.resources[prefix].watchers.discard(watcher)
        watcher.closed = True
