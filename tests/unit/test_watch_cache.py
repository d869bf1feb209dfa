"""The watch cache over a real SQLite store: state, indexes, resumption window, 410."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest

from kubeherd.storage.cache import TooOld, WatchCache
from kubeherd.storage.sqlite import SQLiteStore

PODS = "/registry/core/pods/"
CMS = "/registry/core/configmaps/"


def pod(name: str, ns: str = "default", node: str = "") -> bytes:
    return orjson.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
                         "spec": {"nodeName": node} if node else {}})


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


async def _cache(tmp: Path, window: int = 100) -> tuple[SQLiteStore, WatchCache]:
    store = SQLiteStore(tmp / "db")
    await store.start()
    cache = WatchCache(store, [PODS, CMS], window=window, node_indexed=[PODS])
    await cache.start()
    return store, cache


def test_state_is_loaded_and_followed_with_resource_versions(tmp_path: Path) -> None:
    async def go() -> None:
        store = SQLiteStore(tmp_path / "db")
        await store.start()
        kv = await store.create(PODS + "default/a", pod("a"))
        await store.close()
        store, cache = await _cache(tmp_path)
        items = cache.resource(PODS).items
        assert items[PODS + "default/a"].obj["metadata"]["resourceVersion"] == str(kv.mod_revision)
        kv2 = await store.create(PODS + "default/b", pod("b", node="n1"))
        await cache.wait_fresh()
        cached = cache.resource(PODS).items[PODS + "default/b"]
        assert orjson.loads(cached.raw)["metadata"]["resourceVersion"] == str(kv2.mod_revision)
        assert [c.obj["metadata"]["name"] for c in cache.resource(PODS).select(node="n1")] == ["b"]
        assert [c.obj["metadata"]["name"] for c in cache.resource(PODS).select("default")] == ["a", "b"]
        await store.delete(PODS + "default/b")
        await cache.wait_fresh()
        assert list(cache.resource(PODS).select(node="n1")) == []
        await cache.stop()
        await store.close()

    run(go())


def test_watchers_see_filtered_events_and_objects_leaving_the_filter(tmp_path: Path) -> None:
    async def go() -> None:
        store, cache = await _cache(tmp_path)
        on_n1 = lambda c: c.obj.get("spec", {}).get("nodeName") == "n1"  # noqa: E731
        watcher, backlog = cache.watch(PODS, cache.revision, on_n1)
        assert backlog == []
        await store.create(PODS + "default/x", pod("x"))  # not on n1: unseen
        kv = await store.create(PODS + "default/y", pod("y", node="n1"))
        await store.update(PODS + "default/y", pod("y", node="n2"), kv.mod_revision)  # leaves the filter
        got = [await asyncio.wait_for(watcher.queue.get(), 2) for _ in range(2)]
        assert [(t, c.obj["metadata"]["name"]) for t, c in got] == [("ADDED", "y"), ("DELETED", "y")]  # type: ignore[misc]
        await cache.stop()
        await store.close()

    run(go())


def test_window_resumes_and_then_expires(tmp_path: Path) -> None:
    async def go() -> None:
        store, cache = await _cache(tmp_path, window=5)
        first = await store.create(CMS + "default/c0", b'{"metadata":{"name":"c0","namespace":"default"}}')
        for i in range(1, 4):
            await store.create(CMS + f"default/c{i}", b'{"metadata":{"name":"c","namespace":"default"}}')
        await cache.wait_fresh()
        _, backlog = cache.watch(CMS, first.mod_revision, lambda c: True)
        assert [e.revision for e in backlog] == [first.mod_revision + i for i in range(1, 4)]
        for i in range(10):
            await store.create(CMS + f"default/d{i}", b'{"metadata":{"name":"d","namespace":"default"}}')
        await cache.wait_fresh()
        with pytest.raises(TooOld):
            cache.watch(CMS, first.mod_revision, lambda c: True)
        # resuming from within the window still works
        _, backlog = cache.watch(CMS, cache.revision - 2, lambda c: True)
        assert len(backlog) == 2
        await cache.stop()
        await store.close()

    run(go())
