"""SQLiteStore: the conformance suite, plus what only a file-backed store can promise —
reopening keeps data and revisions, and an acknowledged write survives ``kill -9``."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from kubeherd.storage.interface import Compacted, KeyValue, Store
from kubeherd.storage.sqlite import SQLiteStore
from tests.unit.storage_conformance import StoreConformance, aclose, next_events


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return SQLiteStore(tmp_path / "state.db")


class TestSQLiteStoreConformance(StoreConformance):
    pass


def run_with(path: Path, body: Callable[[SQLiteStore], Awaitable[None]]) -> None:
    """Open the store at ``path``, run ``body``, close it: one process lifetime."""

    async def main() -> None:
        store = SQLiteStore(path)
        await store.start()
        try:
            await asyncio.wait_for(body(store), 20)
        finally:
            await store.close()

    asyncio.run(main())


def test_reopen_keeps_data_history_and_revisions(tmp_path: Path) -> None:
    path = tmp_path / "state.db"

    async def first(store: SQLiteStore) -> None:
        await store.create("/a", b"a1")  # 1
        await store.create("/b", b"b1")  # 2
        await store.update("/a", b"a3")  # 3
        await store.delete("/b")  # 4
        await store.create("/c", b"c5")  # 5
        await store.compact(2)

    async def second(store: SQLiteStore) -> None:
        assert store.current_revision() == 5
        assert store.compacted_revision() == 2
        assert await store.get("/a") == KeyValue("/a", b"a3", 3, 1)
        assert await store.get("/b") is None
        assert await store.get("/b", revision=3) == KeyValue("/b", b"b1", 2, 2)
        with pytest.raises(Compacted):
            await store.get("/a", revision=2)
        # The live-key map was rebuilt: create/CAS checks see the reopened state.
        with pytest.raises(Exception, match="key exists"):
            await store.create("/a", b"again")
        assert (await store.update("/a", b"a6", expected_revision=3)).mod_revision == 6
        assert (await store.create("/b", b"b7")) == KeyValue("/b", b"b7", 7, 7)
        replayed = await next_events(store.watch("/", 3), 5)
        assert [(e.type, e.kv.key, e.kv.mod_revision) for e in replayed] == [
            ("MODIFIED", "/a", 3),
            ("DELETED", "/b", 4),
            ("ADDED", "/c", 5),
            ("MODIFIED", "/a", 6),
            ("ADDED", "/b", 7),
        ]

    run_with(path, first)
    run_with(path, second)


def test_reopen_keeps_the_revision_when_compaction_removed_the_newest_rows(tmp_path: Path) -> None:
    path = tmp_path / "state.db"

    async def first(store: SQLiteStore) -> None:
        await store.create("/a", b"1")
        await store.create("/b", b"1")
        await store.delete("/b")
        await store.delete("/a")
        await store.compact(4)  # every row is now history of a deleted key

    async def second(store: SQLiteStore) -> None:
        assert (store.current_revision(), store.compacted_revision()) == (4, 4)
        assert (await store.list("/")).items == []
        assert (await store.create("/a", b"2")).mod_revision == 5

    run_with(path, first)
    run_with(path, second)


def test_database_is_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "state.db"

    async def write(store: SQLiteStore) -> None:
        await store.create("/a", b"1")

    run_with(path, write)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_concurrent_writes_share_commits(tmp_path: Path) -> None:
    async def body(store: SQLiteStore) -> None:
        await asyncio.gather(*(store.create(f"/k/{i}", b"v") for i in range(64)))
        assert store.current_revision() == 64
        assert 1 <= store._commits <= 16  # group commit: one transaction for many writes

    run_with(tmp_path / "state.db", body)


def test_read_racing_with_compaction_raises_compacted(tmp_path: Path) -> None:
    """A read that passed the compacted-revision check before compaction started but ran
    its query after the compaction committed must not return what is left of history."""

    async def body(store: SQLiteStore) -> None:
        await store.create("/a", b"1")
        await store.update("/a", b"2")
        await store.update("/a", b"3")
        query_started, compaction_done = threading.Event(), threading.Event()
        get_at = store._get_at

        def gated_get_at(key: str, revision: int, historic: bool) -> KeyValue | None:
            query_started.set()
            compaction_done.wait(5)
            return get_at(key, revision, historic)

        store._get_at = gated_get_at  # type: ignore[method-assign]
        read = asyncio.ensure_future(store.get("/a", revision=1))
        assert await asyncio.to_thread(query_started.wait, 5)
        await store.compact(2)  # removes the row that revision 1 reads
        compaction_done.set()
        with pytest.raises(Compacted):
            await read

    run_with(tmp_path / "state.db", body)


def test_watch_start_revision_zero_means_from_now(tmp_path: Path) -> None:
    async def body(store: SQLiteStore) -> None:
        await store.create("/a", b"1")
        watch = store.watch("/", 0)
        pending = asyncio.ensure_future(anext(watch))
        await asyncio.sleep(0)
        await store.update("/a", b"2")
        event = await asyncio.wait_for(pending, 5)
        assert (event.type, event.kv.mod_revision) == ("MODIFIED", 2)
        await aclose(watch)

    run_with(tmp_path / "state.db", body)


def test_abandoned_watches_unregister(tmp_path: Path) -> None:
    async def body(store: SQLiteStore) -> None:
        await store.create("/a", b"1")
        closed = store.watch("/", 1)
        await next_events(closed, 1)
        abandoned = store.watch("/", 1)
        await next_events(abandoned, 1)
        assert len(store._watchers) == 2
        await aclose(closed)
        assert len(store._watchers) == 1
        del abandoned  # the loop's async-generator finalizer closes it
        gc.collect()
        for _ in range(3):
            await asyncio.sleep(0)
        assert len(store._watchers) == 0
        await store.update("/a", b"2")  # nothing left to deliver to

    run_with(tmp_path / "state.db", body)


CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from kubeherd.storage.sqlite import SQLiteStore

    async def main(path):
        store = SQLiteStore(path)
        await store.start()
        print("ready", flush=True)

        async def writer(w):
            i = 0
            while True:
                kv = await store.create(f"/k/{w}/{i}", f"{w}-{i}".encode())
                print(kv.key, kv.mod_revision, flush=True)  # acknowledged
                i += 1

        await asyncio.gather(*(writer(w) for w in range(8)))

    asyncio.run(main(sys.argv[1]))
    """
)


def test_acknowledged_writes_survive_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE, text=True, cwd=tmp_path
    )
    assert child.stdout is not None
    try:
        assert child.stdout.readline().strip() == "ready"
        acknowledged: dict[str, int] = {}
        while len(acknowledged) < 500:
            key, revision = child.stdout.readline().split()
            acknowledged[key] = int(revision)
        os.kill(child.pid, signal.SIGKILL)  # mid-stream: other writes are in flight
        for line in child.stdout:  # acknowledged before the kill, still in the pipe
            if line.endswith("\n"):
                key, revision = line.split()
                acknowledged[key] = int(revision)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == -signal.SIGKILL

    async def check(store: SQLiteStore) -> None:
        assert store.current_revision() >= max(acknowledged.values())
        listed = {kv.key: kv for kv in (await store.list("/k/")).items}
        for key, revision in acknowledged.items():
            w, i = key.split("/")[2:]
            assert listed[key] == KeyValue(key, f"{w}-{i}".encode(), revision, revision)
        # Nothing beyond what was written: revisions stay consecutive from 1.
        assert sorted(kv.mod_revision for kv in listed.values()) == list(range(1, len(listed) + 1))

    run_with(path, check)
