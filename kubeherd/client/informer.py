"""Informers: list, then watch, into a local indexed cache that controllers read instead of the API.

An informer keeps one list+watch per (resource, namespace, selectors) however many controllers
use it (the factory shares them). It relists when the server says its resource version has
expired (410) and re-watches from the last seen version when a watch ends. Event handlers run
on the event loop and must only enqueue work: controllers read state from the indexer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from kubeherd.client.api import APIClient, APIStatusError, ResourceRef
from kubeherd.client.transport import StreamError

log = logging.getLogger(__name__)

Obj = dict[str, Any]
IndexFunc = Callable[[Obj], Iterable[str]]


def trim(obj: Obj) -> None:
    """Drop managedFields from cached objects, as kube-controller-manager and kube-scheduler do:
    no controller reads them, they are often the biggest part of an object, and an update that
    leaves them out keeps the stored ones. Then share the parts most pods repeat (`share_parts`)."""
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        meta.pop("managedFields", None)
    share_parts(obj)


# Equal parts of different cached objects, by their JSON: one copy serves them all.
_SHARED: dict[bytes, Any] = {}
_SHARED_MAX = 512


def _shared(value: Any) -> Any:
    key = orjson.dumps(value)
    found = _SHARED.get(key)
    if found is None:
        if len(_SHARED) >= _SHARED_MAX:
            _SHARED.clear()
        _SHARED[key] = found = value
    return found


def share_parts(obj: Obj) -> None:
    """Make the parts nearly every pod carries identically one object for all cached pods: the
    projected sources of the service-account token volume (admission writes the same ones into
    every pod) and the tolerations (the not-ready/unreachable defaults). Together they are a
    third of a trimmed pod's memory, in every informer of every component. Cached objects are
    read-only (as client-go's), so sharing is invisible to readers."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    tolerations = spec.get("tolerations")
    if isinstance(tolerations, list) and tolerations:
        spec["tolerations"] = _shared(tolerations)
    for volume in spec.get("volumes") or ():
        if isinstance(volume, dict) and isinstance(volume.get("projected"), dict):
            volume["projected"] = _shared(volume["projected"])


def object_key(obj: Obj) -> str:
    """`namespace/name`, or `name` for cluster-scoped objects (client-go's MetaNamespaceKeyFunc)."""
    meta = obj.get("metadata", {})
    ns = meta.get("namespace")
    return f"{ns}/{meta['name']}" if ns else meta["name"]


def split_key(key: str) -> tuple[str, str]:
    ns, _, name = key.rpartition("/")
    return ns, name


def index_by_namespace(obj: Obj) -> list[str]:
    return [obj.get("metadata", {}).get("namespace", "")]


def index_by_owner_uid(obj: Obj) -> list[str]:
    return [ref["uid"] for ref in obj.get("metadata", {}).get("ownerReferences") or [] if "uid" in ref]


def index_by_node_name(obj: Obj) -> list[str]:
    node = (obj.get("spec") or {}).get("nodeName")
    return [node] if node else []


class Indexer:
    """Objects by key, plus named secondary indexes kept up to date on every change."""

    def __init__(self, indexers: dict[str, IndexFunc] | None = None) -> None:
        self.items: dict[str, Obj] = {}
        self.indexers: dict[str, IndexFunc] = {"namespace": index_by_namespace, **(indexers or {})}
        self.indices: dict[str, dict[str, set[str]]] = {name: {} for name in self.indexers}

    def add_indexer(self, name: str, func: IndexFunc) -> None:
        if name in self.indexers:
            return
        self.indexers[name] = func
        index: dict[str, set[str]] = {}
        for key, obj in self.items.items():
            for value in func(obj):
                index.setdefault(value, set()).add(key)
        self.indices[name] = index

    def _unindex(self, key: str, obj: Obj) -> None:
        for name, func in self.indexers.items():
            index = self.indices[name]
            for value in func(obj):
                keys = index.get(value)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del index[value]

    def _index(self, key: str, obj: Obj) -> None:
        for name, func in self.indexers.items():
            index = self.indices[name]
            for value in func(obj):
                index.setdefault(value, set()).add(key)

    def upsert(self, obj: Obj) -> Obj | None:
        key = object_key(obj)
        old = self.items.get(key)
        if old is not None:
            self._unindex(key, old)
        self.items[key] = obj
        self._index(key, obj)
        return old

    def remove(self, obj: Obj) -> Obj | None:
        key = object_key(obj)
        old = self.items.pop(key, None)
        if old is not None:
            self._unindex(key, old)
        return old

    def get(self, key: str) -> Obj | None:
        return self.items.get(key)

    def get_by_name(self, namespace: str, name: str) -> Obj | None:
        return self.items.get(f"{namespace}/{name}" if namespace else name)

    def objects(self, namespace: str = "") -> list[Obj]:
        """Everything cached, or everything in one namespace."""
        if not namespace:
            return [*self.items.values()]
        return self.by_index("namespace", namespace)

    def by_index(self, name: str, value: str) -> list[Obj]:
        return [self.items[k] for k in self.indices[name].get(value, ())]


@dataclass
class Handlers:
    on_add: Callable[[Obj], None] | None = None
    on_update: Callable[[Obj, Obj], None] | None = None
    on_delete: Callable[[Obj], None] | None = None


@dataclass
class Informer:
    client: APIClient
    ref: ResourceRef
    namespace: str = ""
    label_selector: str = ""
    field_selector: str = ""
    indexer: Indexer = field(default_factory=Indexer)
    handlers: list[Handlers] = field(default_factory=list)
    synced: asyncio.Event = field(default_factory=asyncio.Event)
    resource_version: str = ""
    _task: asyncio.Task[None] | None = None

    def add_handlers(self, on_add: Callable[[Obj], None] | None = None,
                     on_update: Callable[[Obj, Obj], None] | None = None,
                     on_delete: Callable[[Obj], None] | None = None) -> None:
        handlers = Handlers(on_add, on_update, on_delete)
        self.handlers.append(handlers)
        if on_add is not None:  # a late subscriber first sees what is already there
            for obj in list(self.indexer.items.values()):
                on_add(obj)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
            self._task = None

    def _emit_add(self, obj: Obj) -> None:
        for h in self.handlers:
            if h.on_add:
                h.on_add(obj)

    def _emit_update(self, old: Obj, new: Obj) -> None:
        for h in self.handlers:
            if h.on_update:
                h.on_update(old, new)

    def _emit_delete(self, obj: Obj) -> None:
        for h in self.handlers:
            if h.on_delete:
                h.on_delete(obj)

    async def _list(self) -> None:
        listed = await self.client.list(self.ref, self.namespace, label_selector=self.label_selector,
                                        field_selector=self.field_selector, resource_version="0")
        fresh = {object_key(o): o for o in listed.get("items") or []}
        for key, gone in list(self.indexer.items.items()):
            if key not in fresh:
                self.indexer.remove(gone)
                self._emit_delete(gone)
        for obj in fresh.values():
            trim(obj)
            obj.setdefault("apiVersion", self.ref.api_version)
            if self.ref.kind:
                obj.setdefault("kind", self.ref.kind)
            old = self.indexer.upsert(obj)
            if old is None:
                self._emit_add(obj)
            elif old.get("metadata", {}).get("resourceVersion") != obj["metadata"].get("resourceVersion"):
                self._emit_update(old, obj)
        self.resource_version = listed.get("metadata", {}).get("resourceVersion", "")
        self.synced.set()

    async def _watch(self) -> bool:
        """Watch until the stream ends; False when a relist is needed."""
        async for event in self.client.watch(self.ref, self.namespace, resource_version=self.resource_version,
                                             label_selector=self.label_selector,
                                             field_selector=self.field_selector,
                                             timeout_seconds=random.randint(300, 600)):
            kind = event.get("type")
            obj = event.get("object") or {}
            if kind == "ERROR":
                if obj.get("code") == 410:
                    return False
                raise APIStatusError(int(obj.get("code") or 500), obj)
            rv = obj.get("metadata", {}).get("resourceVersion")
            if kind == "BOOKMARK":
                self.resource_version = rv or self.resource_version
                continue
            if kind in ("ADDED", "MODIFIED"):
                trim(obj)
                old = self.indexer.upsert(obj)
                if old is None:
                    self._emit_add(obj)
                else:
                    self._emit_update(old, obj)
            elif kind == "DELETED":
                self.indexer.remove(obj)
                self._emit_delete(obj)
            if rv:
                self.resource_version = rv
        return True

    async def _run(self) -> None:
        backoff = 0.2
        need_list = True
        while True:
            try:
                if need_list:
                    await self._list()
                need_list = not await self._watch()
                backoff = 0.2
            except asyncio.CancelledError:
                raise
            except (APIStatusError, StreamError, OSError, Exception) as exc:  # noqa: B014 - say what we expect
                if isinstance(exc, APIStatusError) and exc.code == 410:
                    need_list = True
                    continue
                log.debug("informer %s: %s; retrying in %.1fs", self.ref.plural, exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
                need_list = True


class InformerFactory:
    """Shares one informer per (resource, namespace, selectors) among all its users."""

    def __init__(self, client: APIClient) -> None:
        self.client = client
        self.informers: dict[tuple[Any, ...], Informer] = {}
        self.started = False

    def informer(self, ref: ResourceRef, namespace: str = "", label_selector: str = "",
                 field_selector: str = "") -> Informer:
        key = (ref, namespace, label_selector, field_selector)
        informer = self.informers.get(key)
        if informer is None:
            informer = Informer(self.client, ref, namespace, label_selector, field_selector)
            self.informers[key] = informer
            if self.started:
                informer.start()
        return informer

    def start(self) -> None:
        self.started = True
        for informer in self.informers.values():
            informer.start()

    async def wait_for_sync(self, timeout: float = 30.0) -> None:
        await asyncio.wait_for(asyncio.gather(*(i.synced.wait() for i in self.informers.values())), timeout)

    async def stop(self) -> None:
        for informer in self.informers.values():
            await informer.stop()
