"""The one conformance suite every Store backend passes unchanged.

A backend's test module subclasses ``StoreConformance`` (its name starts with ``Test``) and
provides a ``store`` fixture that returns a *new, empty, not yet started* Store. Each test
starts it inside its own event loop (``asyncio.run``: pytest-asyncio is not used), runs,
and closes it — so ``close()`` must tolerate being called a second time by a test that
already closed the store. Nothing here looks inside a backend: only the Store protocol.

The expected behaviour is the one written in ``kubeherd/storage/interface.py``; where a
test pins down something the protocol leaves open, its docstring says so.
"""

from __future__ import annotations

import asyncio
import functools
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from kubeherd.storage.interface import (
    Compacted,
    Event,
    FutureRevision,
    KeyExists,
    KeyNotFound,
    KeyValue,
    RevisionConflict,
    Store,
)

TEST_TIMEOUT = 20.0  # seconds for one whole test: a hung watch fails instead of hanging CI
EVENT_TIMEOUT = 5.0

StoreTest = Callable[[Any, Store], Awaitable[None]]


def store_test(fn: StoreTest) -> Callable[[Any, Store], None]:
    """Run an ``async def test_x(self, store)`` in a fresh event loop around a started store."""

    @functools.wraps(fn)
    def wrapper(self: Any, store: Store) -> None:
        async def main() -> None:
            await store.start()
            try:
                await asyncio.wait_for(fn(self, store), TEST_TIMEOUT)
            finally:
                await store.close()

        asyncio.run(main())

    return wrapper


async def next_events(watch: AsyncIterator[Event], count: int) -> list[Event]:
    async def take() -> list[Event]:
        return [await anext(watch) for _ in range(count)]

    return await asyncio.wait_for(take(), EVENT_TIMEOUT)


async def events_until(watch: AsyncIterator[Event], last_revision: int) -> list[Event]:
    """Events up to and including ``last_revision``."""

    async def take() -> list[Event]:
        events: list[Event] = []
        async for event in watch:
            events.append(event)
            if event.kv.mod_revision >= last_revision:
                break
        return events

    return await asyncio.wait_for(take(), EVENT_TIMEOUT)


async def aclose(watch: AsyncIterator[Event]) -> None:
    close = getattr(watch, "aclose", None)
    if close is not None:
        await close()


def summary(events: list[Event]) -> list[tuple[str, str, bytes, int, bytes | None]]:
    return [(e.type, e.kv.key, e.kv.value, e.kv.mod_revision, e.prev_value) for e in events]


class StoreConformance:
    # -- revisions ---------------------------------------------------------------------------

    @store_test
    async def test_new_store_is_empty_at_revision_zero(self, store: Store) -> None:
        assert store.current_revision() == 0
        assert store.compacted_revision() == 0
        assert await store.get("/a") is None
        listed = await store.list("")
        assert listed.items == [] and listed.revision == 0 and not listed.more

    @store_test
    async def test_revision_increments_by_one_per_write_and_never_on_failure(self, store: Store) -> None:
        assert (await store.create("/a", b"1")).mod_revision == 1
        with pytest.raises(KeyExists):
            await store.create("/a", b"again")
        with pytest.raises(KeyNotFound):
            await store.update("/missing", b"x")
        with pytest.raises(KeyNotFound):
            await store.delete("/missing")
        with pytest.raises(RevisionConflict):
            await store.update("/a", b"2", expected_revision=99)
        with pytest.raises(RevisionConflict):
            await store.delete("/a", expected_revision=99)
        assert store.current_revision() == 1
        assert (await store.update("/a", b"2")).mod_revision == 2
        assert (await store.create("/b", b"1")).mod_revision == 3
        assert (await store.delete("/a")).mod_revision == 4
        assert store.current_revision() == 4

    # -- create / get / update / delete ------------------------------------------------------

    @store_test
    async def test_create_then_get(self, store: Store) -> None:
        created = await store.create("/registry/pods/default/web", b'{"kind":"Pod"}')
        assert created == KeyValue("/registry/pods/default/web", b'{"kind":"Pod"}', 1, 1)
        assert await store.get("/registry/pods/default/web") == created
        assert await store.get("/registry/pods/default/other") is None

    @store_test
    async def test_values_are_opaque_bytes(self, store: Store) -> None:
        values = {"/empty": b"", "/binary": bytes(range(256)) * 4, "/big": b"x" * (1 << 20)}
        for key, value in values.items():
            await store.create(key, value)
        for key, value in values.items():
            got = await store.get(key)
            assert got is not None and got.value == value
        # An empty value is a present key, not a deleted one.
        assert [kv.key for kv in (await store.list("/")).items] == ["/big", "/binary", "/empty"]

    @store_test
    async def test_create_existing_key_raises_key_exists(self, store: Store) -> None:
        await store.create("/a", b"1")
        with pytest.raises(KeyExists) as raised:
            await store.create("/a", b"2")
        assert raised.value.key == "/a"
        assert (await store.get("/a")) == KeyValue("/a", b"1", 1, 1)

    @store_test
    async def test_update_keeps_create_revision(self, store: Store) -> None:
        await store.create("/other", b"")
        await store.create("/a", b"1")
        updated = await store.update("/a", b"2")
        assert updated == KeyValue("/a", b"2", 3, 2)
        assert await store.get("/a") == updated

    @store_test
    async def test_compare_and_swap(self, store: Store) -> None:
        first = await store.create("/a", b"1")
        second = await store.update("/a", b"2", expected_revision=first.mod_revision)
        assert second.mod_revision == 2
        with pytest.raises(RevisionConflict) as raised:
            await store.update("/a", b"stale", expected_revision=first.mod_revision)
        assert (raised.value.key, raised.value.expected, raised.value.actual) == ("/a", 1, 2)
        assert await store.get("/a") == second
        third = await store.update("/a", b"3", expected_revision=second.mod_revision)
        assert third == KeyValue("/a", b"3", 3, 1)

    @store_test
    async def test_update_and_delete_of_absent_key_raise_key_not_found(self, store: Store) -> None:
        with pytest.raises(KeyNotFound) as raised:
            await store.update("/nope", b"x")
        assert raised.value.key == "/nope"
        with pytest.raises(KeyNotFound):
            await store.update("/nope", b"x", expected_revision=1)
        with pytest.raises(KeyNotFound):
            await store.delete("/nope")
        await store.create("/gone", b"1")
        await store.delete("/gone")
        with pytest.raises(KeyNotFound):
            await store.update("/gone", b"2")
        with pytest.raises(KeyNotFound):
            await store.delete("/gone")

    @store_test
    async def test_delete_returns_previous_value_at_delete_revision(self, store: Store) -> None:
        await store.create("/a", b"1")
        await store.update("/a", b"2")
        deleted = await store.delete("/a")
        assert deleted == KeyValue("/a", b"2", 3, 1)
        assert await store.get("/a") is None
        recreated = await store.create("/a", b"new")
        assert recreated == KeyValue("/a", b"new", 4, 4)  # a new life: a new create_revision

    @store_test
    async def test_delete_with_expected_revision(self, store: Store) -> None:
        created = await store.create("/a", b"1")
        updated = await store.update("/a", b"2")
        with pytest.raises(RevisionConflict) as raised:
            await store.delete("/a", expected_revision=created.mod_revision)
        assert raised.value.actual == updated.mod_revision
        assert await store.get("/a") == updated
        deleted = await store.delete("/a", expected_revision=updated.mod_revision)
        assert deleted.mod_revision == 3 and deleted.value == b"2"
        assert await store.get("/a") is None

    # -- list --------------------------------------------------------------------------------

    @store_test
    async def test_list_by_prefix_is_sorted_by_key(self, store: Store) -> None:
        inside = ["/s/a", "/s/Z", "/s/z", "/s/é", "/s/\U0001f600", "/s/a/b", "/s/0"]
        outside = ["/s", "/s0", "/s0x", "/sa", "/r/x", "/t/x", "/s\U0001f600"]
        keys = inside + outside
        random.Random(7).shuffle(keys)
        for key in keys:
            await store.create(key, key.encode())
        listed = await store.list("/s/")
        assert [kv.key for kv in listed.items] == sorted(inside)
        assert all(kv.value == kv.key.encode() for kv in listed.items)
        assert listed.revision == len(keys) and not listed.more
        assert [kv.key for kv in (await store.list("")).items] == sorted(keys)
        assert (await store.list("/nothing/")).items == []

    @store_test
    async def test_list_prefix_ending_in_extreme_characters(self, store: Store) -> None:
        top, below_surrogates, above_surrogates = "\U0010ffff", "\ud7ff", "\ue000"
        keys = ["/m" + top, "/m" + top + "a", "/n", "/x" + below_surrogates + "a", "/x" + above_surrogates]
        for key in keys:
            await store.create(key, b"v")
        assert [kv.key for kv in (await store.list("/m" + top)).items] == keys[:2]
        assert [kv.key for kv in (await store.list("/x" + below_surrogates)).items] == [keys[3]]
        assert [kv.key for kv in (await store.list(top)).items] == []

    @store_test
    async def test_list_leaves_out_deleted_keys(self, store: Store) -> None:
        for key in ("/p/a", "/p/b", "/p/c"):
            await store.create(key, b"v")
        await store.delete("/p/b")
        await store.update("/p/c", b"w")
        listed = await store.list("/p/")
        assert [(kv.key, kv.value, kv.mod_revision) for kv in listed.items] == [
            ("/p/a", b"v", 1),
            ("/p/c", b"w", 5),
        ]

    @store_test
    async def test_list_pages_with_limit_and_start_after(self, store: Store) -> None:
        keys = [f"/p/{i:02d}" for i in range(25)]
        for key in keys:
            await store.create(key, b"v")
        await store.create("/q/after", b"v")
        pages: list[list[str]] = []
        mores: list[bool] = []
        start_after = ""
        while True:
            page = await store.list("/p/", start_after=start_after, limit=10)
            pages.append([kv.key for kv in page.items])
            mores.append(page.more)
            if not page.more:
                break
            start_after = page.items[-1].key
        assert [len(p) for p in pages] == [10, 10, 5]
        assert mores == [True, True, False]
        assert sum(pages, []) == keys
        exact = await store.list("/p/", limit=25)
        assert len(exact.items) == 25 and not exact.more
        assert [kv.key for kv in (await store.list("/p/", start_after="/p/22")).items] == keys[23:]
        assert (await store.list("/p/", start_after="/p/24")).items == []
        assert (await store.list("/p/", start_after="/zzz")).items == []

    @store_test
    async def test_list_pages_at_a_fixed_revision_ignore_later_writes(self, store: Store) -> None:
        for i in range(6):
            await store.create(f"/p/{i}", b"old")
        first = await store.list("/p/", limit=3)
        await store.delete("/p/4")
        await store.update("/p/5", b"new")
        await store.create("/p/6", b"new")
        rest = await store.list("/p/", start_after=first.items[-1].key, limit=3, revision=first.revision)
        assert [(kv.key, kv.value) for kv in rest.items] == [
            ("/p/3", b"old"),
            ("/p/4", b"old"),
            ("/p/5", b"old"),
        ]
        assert not rest.more and rest.revision == first.revision

    # -- reads at older revisions ------------------------------------------------------------

    @store_test
    async def test_get_and_list_at_older_revisions(self, store: Store) -> None:
        await store.create("/a", b"a1")  # 1
        await store.create("/b", b"b1")  # 2
        await store.update("/a", b"a2")  # 3
        await store.delete("/b")  # 4
        await store.create("/b", b"b2")  # 5
        expected_a = {1: ("a1", 1), 2: ("a1", 1), 3: ("a2", 3), 4: ("a2", 3), 5: ("a2", 3)}
        expected_b = {1: None, 2: ("b1", 2), 3: ("b1", 2), 4: None, 5: ("b2", 5)}
        for rev in range(1, 6):
            a = await store.get("/a", revision=rev)
            assert a is not None and (a.value.decode(), a.mod_revision) == expected_a[rev]
            b = await store.get("/b", revision=rev)
            assert (None if b is None else (b.value.decode(), b.mod_revision)) == expected_b[rev]
            listed = await store.list("/", revision=rev)
            assert listed.revision == rev
            assert [kv for kv in listed.items] == [kv for kv in (a, b) if kv is not None]
        assert (await store.get("/b", revision=5)) == KeyValue("/b", b"b2", 5, 5)
        assert (await store.get("/a", revision=2)) == KeyValue("/a", b"a1", 1, 1)

    @store_test
    async def test_future_revision(self, store: Store) -> None:
        await store.create("/a", b"1")
        with pytest.raises(FutureRevision) as raised:
            await store.get("/a", revision=2)
        assert (raised.value.requested, raised.value.current) == (2, 1)
        with pytest.raises(FutureRevision):
            await store.list("/", revision=2)
        assert (await store.list("/", revision=1)).revision == 1

    # -- compaction --------------------------------------------------------------------------

    @store_test
    async def test_compact_forgets_history_but_keeps_current_values(self, store: Store) -> None:
        await store.create("/a", b"a1")  # 1
        await store.create("/b", b"b1")  # 2
        await store.update("/a", b"a3")  # 3
        await store.delete("/b")  # 4
        await store.create("/c", b"c5")  # 5
        await store.update("/c", b"c6")  # 6
        await store.compact(4)
        assert store.compacted_revision() == 4
        for rev in (1, 3, 4):
            with pytest.raises(Compacted) as raised:
                await store.get("/a", revision=rev)
            assert (raised.value.requested, raised.value.compacted) == (rev, 4)
            with pytest.raises(Compacted):
                await store.list("/", revision=rev)
        # Above the compacted revision every read still answers as before.
        at5 = await store.list("/", revision=5)
        assert [(kv.key, kv.value, kv.mod_revision) for kv in at5.items] == [
            ("/a", b"a3", 3),
            ("/c", b"c5", 5),
        ]
        assert await store.get("/b", revision=5) is None
        latest = await store.list("/")
        assert [(kv.key, kv.value) for kv in latest.items] == [("/a", b"a3"), ("/c", b"c6")]
        assert store.current_revision() == 6
        assert (await store.create("/d", b"d")).mod_revision == 7

    @store_test
    async def test_compact_keeps_what_reads_above_it_need(self, store: Store) -> None:
        """A key last written before the compaction point and rewritten after it still reads
        its old value at revisions in between, as in etcd."""
        await store.create("/a", b"old")  # 1
        for i in range(2, 6):
            await store.create(f"/filler/{i}", b"")  # 2..5
        await store.update("/a", b"new")  # 6
        await store.compact(4)
        assert await store.get("/a", revision=5) == KeyValue("/a", b"old", 1, 1)
        assert [kv.key for kv in (await store.list("/", revision=5)).items][0] == "/a"
        replayed = await next_events(store.watch("/a", 5), 1)
        assert summary(replayed) == [("MODIFIED", "/a", b"new", 6, b"old")]

    @store_test
    async def test_watch_from_compacted_revision_raises_compacted(self, store: Store) -> None:
        for i in range(5):
            await store.create(f"/k/{i}", b"v")
        await store.compact(3)
        for start in (1, 3):
            watch = store.watch("/k/", start)
            with pytest.raises(Compacted):
                await anext(watch)
        resumed = store.watch("/k/", 4)
        assert [e.kv.mod_revision for e in await next_events(resumed, 2)] == [4, 5]
        await aclose(resumed)

    # -- watch -------------------------------------------------------------------------------

    @store_test
    async def test_watch_delivers_live_events_in_order(self, store: Store) -> None:
        await store.create("/before", b"x")
        watch = store.watch("/", store.current_revision() + 1)
        first = asyncio.ensure_future(anext(watch))
        await asyncio.sleep(0)
        await store.create("/a", b"1")  # 2
        await store.update("/a", b"2")  # 3
        await store.create("/b", b"1")  # 4
        await store.delete("/a")  # 5
        events = [await asyncio.wait_for(first, EVENT_TIMEOUT), *await next_events(watch, 3)]
        assert summary(events) == [
            ("ADDED", "/a", b"1", 2, None),
            ("MODIFIED", "/a", b"2", 3, b"1"),
            ("ADDED", "/b", b"1", 4, None),
            ("DELETED", "/a", b"2", 5, b"2"),
        ]
        assert [e.kv.create_revision for e in events] == [2, 2, 4, 2]
        await aclose(watch)

    @store_test
    async def test_deleted_events_carry_the_previous_value(self, store: Store) -> None:
        await store.create("/a", b"first")
        await store.update("/a", b"last")
        deleted = await store.delete("/a")
        live = store.watch("/a", 4)
        replay = store.watch("/a", 1)
        replayed = await next_events(replay, 3)
        assert summary(replayed)[2] == ("DELETED", "/a", b"last", 3, b"last")
        assert replayed[2].kv == deleted
        await store.create("/a", b"again")
        await store.delete("/a")
        live_events = await next_events(live, 2)
        assert summary(live_events) == [
            ("ADDED", "/a", b"again", 4, None),
            ("DELETED", "/a", b"again", 5, b"again"),
        ]
        assert live_events[1].kv.create_revision == 4
        await aclose(live)
        await aclose(replay)

    @store_test
    async def test_watch_filters_by_prefix(self, store: Store) -> None:
        await store.create("/a/old", b"1")  # 1
        await store.create("/ab", b"1")  # 2
        watch_all_of_a = store.watch("/a/", 1)
        live_only = store.watch("/a/", 3)
        await store.create("/b/x", b"1")  # 3
        await store.create("/a/x", b"1")  # 4
        await store.create("/a", b"1")  # 5
        await store.update("/a/old", b"2")  # 6
        got = await next_events(watch_all_of_a, 3)
        assert [(e.kv.key, e.kv.mod_revision) for e in got] == [("/a/old", 1), ("/a/x", 4), ("/a/old", 6)]
        got_live = await next_events(live_only, 2)
        assert [(e.kv.key, e.kv.mod_revision) for e in got_live] == [("/a/x", 4), ("/a/old", 6)]
        await aclose(watch_all_of_a)
        await aclose(live_only)

    @store_test
    async def test_watch_replays_then_follows_concurrent_writes_without_gap_or_duplicate(
        self, store: Store
    ) -> None:
        history: list[Event] = []

        async def write(i: int) -> None:
            key = f"/w/{i % 7}"
            current = await store.get(key)
            if current is None:
                kv = await store.create(key, f"{i}".encode())
                history.append(Event("ADDED", kv))
            elif i % 5 == 0:
                kv = await store.delete(key)
                history.append(Event("DELETED", kv, current.value))
            else:
                kv = await store.update(key, f"{i}".encode(), expected_revision=current.mod_revision)
                history.append(Event("MODIFIED", kv, current.value))

        for i in range(40):
            await write(i)
        total = 160
        watches: dict[int, AsyncIterator[Event]] = {}

        async def writer() -> None:
            for i in range(40, total):
                await write(i)
                if i in (45, 80, 120):
                    # Start watches while writes are in flight, from old and recent revisions.
                    for start in (1, 20, store.current_revision()):
                        watches[len(watches)] = store.watch("/w/", start)
                    await asyncio.sleep(0)

        collectors: list[asyncio.Task[list[Event]]] = []

        async def start_collectors() -> None:
            seen = 0
            while len(collectors) < 9:
                await asyncio.sleep(0)
                for n in range(seen, len(watches)):
                    collectors.append(asyncio.ensure_future(events_until(watches[n], total)))
                seen = len(watches)

        await asyncio.gather(writer(), start_collectors())
        assert store.current_revision() == total
        by_revision = {e.kv.mod_revision: e for e in history}
        for task in collectors:
            events = await task
            start = events[0].kv.mod_revision
            revisions = [e.kv.mod_revision for e in events]
            assert revisions == list(range(start, total + 1))
            assert events == [by_revision[r] for r in revisions]
        for watch in watches.values():
            await aclose(watch)

    @store_test
    async def test_watch_from_future_revision_waits_for_it(self, store: Store) -> None:
        await store.create("/a", b"1")
        watch = store.watch("/", 3)
        pending = asyncio.ensure_future(anext(watch))
        await store.update("/a", b"2")  # 2: before the start revision, not delivered
        await store.update("/a", b"3")  # 3
        event = await asyncio.wait_for(pending, EVENT_TIMEOUT)
        assert (event.kv.mod_revision, event.kv.value) == (3, b"3")
        await aclose(watch)

    @store_test
    async def test_closing_the_store_ends_watches(self, store: Store) -> None:
        await store.create("/a", b"1")
        replaying = store.watch("/", 1)
        assert [e.kv.mod_revision for e in await next_events(replaying, 1)] == [1]
        waiting = asyncio.ensure_future(anext(replaying))
        idle = store.watch("/", 2)
        idle_waiting = asyncio.ensure_future(anext(idle))
        await asyncio.sleep(0.01)
        await store.close()
        for pending in (waiting, idle_waiting):
            with pytest.raises(StopAsyncIteration):
                await asyncio.wait_for(pending, EVENT_TIMEOUT)

    # -- concurrency -------------------------------------------------------------------------

    @store_test
    async def test_concurrent_creates_get_distinct_consecutive_revisions(self, store: Store) -> None:
        results = await asyncio.gather(*(store.create(f"/c/{i:03d}", str(i).encode()) for i in range(200)))
        assert sorted(kv.mod_revision for kv in results) == list(range(1, 201))
        assert store.current_revision() == 200
        listed = await store.list("/c/")
        assert [(kv.key, kv.mod_revision) for kv in listed.items] == [
            (kv.key, kv.mod_revision) for kv in results
        ]

    @store_test
    async def test_concurrent_failures_do_not_disturb_other_writes(self, store: Store) -> None:
        await store.create("/cas", b"0")
        creates = [store.create(f"/dup/{i % 50}", str(i).encode()) for i in range(100)]
        cas = [store.update("/cas", str(i).encode(), expected_revision=1) for i in range(20)]
        results = await asyncio.gather(*creates, *cas, return_exceptions=True)
        created = [r for r in results[:100] if isinstance(r, KeyValue)]
        assert len(created) == 50 and sum(isinstance(r, KeyExists) for r in results[:100]) == 50
        swapped = [r for r in results[100:] if isinstance(r, KeyValue)]
        assert len(swapped) == 1 and sum(isinstance(r, RevisionConflict) for r in results[100:]) == 19
        revisions = sorted(kv.mod_revision for kv in created + swapped)
        assert revisions == list(range(2, 53))
        assert store.current_revision() == 52
        watch = store.watch("/", 2)
        assert [e.kv.mod_revision for e in await next_events(watch, 51)] == revisions
        await aclose(watch)
