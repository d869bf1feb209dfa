"""SQLite backend of the Store protocol: an MVCC log in one table, in the style of kine.

Layout. Every successful write appends one row to ``kv``; its ``id`` (the rowid) *is* the
revision. A row records the key name, whether it created or deleted the key, the key's
create_revision, the revision of the key's previous row (``prev_revision``) and the value
(empty for a delete row). The value of a key at revision R is its newest row with
``id <= R`` (absent when that row is a delete), so reads at old revisions are plain indexed
queries on ``(name, id)``, and a watch replays history by scanning ``id`` ranges. The meta
table persists the compacted revision; because compaction may delete the newest rows (of
deleted keys), the revision on reopen is ``max(MAX(id), compacted revision)``.

Compaction at R keeps, for every key, its newest row at or below R and everything above R,
which is what reads at revisions above R and watch replays from above R need: a row is
deleted when its successor (the row whose ``prev_revision`` points at it) is itself at or
below R, and delete rows at or below R go with the rest of their key's history. (Deleting
every row "that is not the newest of its key" would break a read at R+1 of a key that was
rewritten after R.)

Durability. ``journal_mode=WAL`` with ``synchronous=FULL``: every COMMIT fsyncs the WAL
before the writer is told its write succeeded. The requirement is to survive ``kill -9`` of
the process, which ``synchronous=NORMAL`` would also meet (a commit is in the kernel's page
cache once ``write()`` returns and the kernel flushes it even if the process dies), but FULL
also survives power loss and an OS crash, and with group commit one fsync is shared by every
write in a batch, so its cost per write falls as load rises (measured here: ~140 us/fsync).
``synchronous="NORMAL"`` can be passed for throughput on machines with slow fsync.

Threading. One dedicated writer thread owns the write connection and all write state: the
revision counter and the map of live keys ``key -> (mod_revision, create_revision)`` that
lets compare-and-swap run without a SELECT. Callers on the event loop enqueue a request and
await a future. The writer takes everything queued, checks and applies each request in
order against the state left by the previous ones (a failed request consumes no revision
and leaves the others alone), writes all rows with one ``executemany`` and commits once:
requests that arrive during a commit form the next batch (group commit). After the commit
it hands the whole batch to the loop with one ``call_soon_threadsafe``; there the loop-side
revision advances, events fan out to watchers and the futures resolve, in that order.

Reads (get, list, watch replay) run on a small thread pool, each thread with its own read
connection; WAL lets them read a consistent snapshot while the writer commits. A read at
"latest" reads at the loop-side revision, so a caller always sees its own acknowledged
writes, and a list's ``revision`` is exactly the snapshot it describes.

Watch without gaps or duplicates. A watcher registers on the loop and notes the loop-side
revision ``cur`` at that moment. Every batch dispatched after that carries revisions above
``cur`` and lands in the watcher's queue; history ``start_revision..cur`` is replayed from
SQLite (committed, because the loop-side revision only advances after a commit). Replay
first, then the queue: every revision exactly once.

Compaction races. The writer publishes the new compacted revision before committing the
deletion, and readers of old revisions check it again after their query: a read that may
have missed compacted rows raises ``Compacted`` instead of returning a wrong answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from kubeherd.storage.interface import (
    Compacted,
    Event,
    FutureRevision,
    KeyExists,
    KeyNotFound,
    KeyValue,
    ListResult,
    RevisionConflict,
    Store,
    StoreError,
)

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    created INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    create_revision INTEGER NOT NULL,
    prev_revision INTEGER NOT NULL,
    value BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS kv_name_id ON kv (name, id);
CREATE TABLE IF NOT EXISTS meta (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""

_INSERT = "INSERT INTO kv (id, name, created, deleted, create_revision, prev_revision, value) VALUES (?, ?, ?, ?, ?, ?, ?)"
_VALUE_AT = "SELECT value FROM kv WHERE id = ?"
_GET_AT = (
    "SELECT id, deleted, create_revision, value FROM kv WHERE name = ? AND id <= ? ORDER BY id DESC LIMIT 1"
)
_LOAD_LIVE = (
    "SELECT kv.name, kv.id, kv.create_revision FROM kv "
    "JOIN (SELECT MAX(id) AS mid FROM kv GROUP BY name) AS newest ON kv.id = newest.mid "
    "WHERE kv.deleted = 0"
)
_REPLAY = (
    "SELECT r.id, r.name, r.created, r.deleted, r.create_revision, r.value, p.value "
    "FROM kv AS r LEFT JOIN kv AS p ON p.id = r.prev_revision "
    "WHERE r.id >= ? AND r.id <= ? {name_filter} ORDER BY r.id LIMIT ?"
)
_COMPACT_SUPERSEDED = (
    "DELETE FROM kv WHERE id IN (SELECT prev_revision FROM kv WHERE id > ? AND id <= ? AND prev_revision > 0)"
)
_COMPACT_DELETED = "DELETE FROM kv WHERE deleted = 1 AND id > ? AND id <= ?"
_SET_COMPACTED = "INSERT OR REPLACE INTO meta (name, value) VALUES ('compacted_revision', ?)"

_REPLAY_CHUNK = 1000  # rows per replay query: bounds memory, keeps read transactions short
_READ_THREADS = 2

_CREATE, _UPDATE, _DELETE, _COMPACT, _CLOSE = range(5)


def _prefix_end(prefix: str) -> str | None:
    """The smallest string greater than every string starting with ``prefix`` (None: no
    bound). SQLite compares TEXT as UTF-8 bytes, which orders like Python's code points."""
    chars = list(prefix)
    while chars:
        code = ord(chars[-1]) + 1
        if code == 0xD800:  # surrogates cannot be stored as UTF-8; no key contains one
            code = 0xE000
        if code <= 0x10FFFF:
            chars[-1] = chr(code)
            return "".join(chars)
        chars.pop()
    return None


def _name_filter(column: str, prefix: str) -> tuple[str, tuple[str, ...]]:
    if not prefix:
        return "", ()
    end = _prefix_end(prefix)
    if end is None:
        return f"AND {column} >= ?", (prefix,)
    return f"AND {column} >= ? AND {column} < ?", (prefix, end)


@dataclass(slots=True)
class _Request:
    op: int
    future: asyncio.Future[Any]
    key: str = ""
    value: bytes = b""
    expected: int = 0  # expected mod_revision for update/delete; target revision for compact


@dataclass(slots=True, eq=False)  # identity hash: watchers live in a set
class _Watcher:
    prefix: str
    queue: asyncio.Queue[list[Event] | None] = field(default_factory=asyncio.Queue)


# What the writer hands to the loop per batch: (future, result or exception) pairs.
_Completions = list[tuple[asyncio.Future[Any], Any]]
# Aliases for signatures inside SQLiteStore, where the name ``list`` is the method.
_KeyValues = list[KeyValue]
_Events = list[Event]
_Requests = list[_Request]


class SQLiteStore:
    """A Store kept in one SQLite database file (WAL mode; the -wal and -shm files sit beside it)."""

    def __init__(
        self, path: str | os.PathLike[str], *, synchronous: Literal["FULL", "NORMAL"] = "FULL"
    ) -> None:
        self._path = Path(path)
        self._synchronous = synchronous
        self._loop: asyncio.AbstractEventLoop | None = None
        self._requests: queue.SimpleQueue[_Request] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._readers: ThreadPoolExecutor | None = None
        self._read_local = threading.local()
        self._read_conns: list[sqlite3.Connection] = []
        self._read_conns_lock = threading.Lock()
        self._watchers: set[_Watcher] = set()
        self._closed = False
        # Loop side: the revision of the last write whose batch has been dispatched.
        self._revision = 0
        # Written by the writer thread only (read anywhere: a Python int store is atomic).
        self._compacted = 0
        # Writer thread only.
        self._next_revision = 0
        self._live: dict[str, tuple[int, int]] = {}
        self._commits = 0  # number of write transactions committed (tests check group commit)

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        if self._loop is not None:
            raise StoreError("store already started")
        self._loop = asyncio.get_running_loop()
        self._path.parent.mkdir(parents=True, exist_ok=True)
        ready: asyncio.Future[tuple[int, int]] = self._loop.create_future()
        self._writer = threading.Thread(
            target=self._writer_main,
            args=(ready,),
            name=f"kubeherd-sqlite-writer:{self._path.name}",
            daemon=True,
        )
        self._writer.start()
        self._revision, self._compacted = await ready
        self._readers = ThreadPoolExecutor(_READ_THREADS, thread_name_prefix="kubeherd-sqlite-read")

    async def close(self) -> None:
        if self._closed or self._loop is None:
            self._closed = True
            return
        self._closed = True
        done: asyncio.Future[None] = self._loop.create_future()
        self._requests.put(_Request(_CLOSE, done))
        await done  # every earlier request is committed and dispatched; the connection is closed
        for watcher in self._watchers:
            watcher.queue.put_nowait(None)
        if self._readers is not None:
            await asyncio.to_thread(self._readers.shutdown, True)
        with self._read_conns_lock:
            for conn in self._read_conns:
                conn.close()
            self._read_conns.clear()

    def current_revision(self) -> int:
        return self._revision

    def compacted_revision(self) -> int:
        return self._compacted

    # -- writes ------------------------------------------------------------------------------

    async def create(self, key: str, value: bytes) -> KeyValue:
        return await self._submit(_Request(_CREATE, self._new_future(), key, bytes(value)))

    async def update(self, key: str, value: bytes, expected_revision: int = 0) -> KeyValue:
        return await self._submit(_Request(_UPDATE, self._new_future(), key, bytes(value), expected_revision))

    async def delete(self, key: str, expected_revision: int = 0) -> KeyValue:
        return await self._submit(_Request(_DELETE, self._new_future(), key, b"", expected_revision))

    async def compact(self, revision: int) -> None:
        """Compacting at or below the compacted revision is a no-op; above the current
        revision raises FutureRevision. Holds the writer for the length of one DELETE."""
        if revision > self._revision:
            raise FutureRevision(revision, self._revision)
        if revision <= self._compacted:
            return
        await self._submit(_Request(_COMPACT, self._new_future(), expected=revision))

    def _new_future(self) -> asyncio.Future[Any]:
        if self._loop is None:
            raise StoreError("store not started")
        return self._loop.create_future()

    def _submit(self, request: _Request) -> asyncio.Future[Any]:
        if self._closed:
            raise StoreError("store is closed")
        self._requests.put(request)
        return request.future

    # -- reads -------------------------------------------------------------------------------

    async def get(self, key: str, revision: int = 0) -> KeyValue | None:
        at = self._read_revision(revision)
        return await self._read(self._get_at, key, at, revision != 0)

    async def list(
        self, prefix: str, *, start_after: str = "", limit: int = 0, revision: int = 0
    ) -> ListResult:
        at = self._read_revision(revision)
        items, more = await self._read(self._list_at, prefix, start_after, limit, at, revision != 0)
        return ListResult(items=items, revision=at, more=more)

    def _read_revision(self, revision: int) -> int:
        if self._closed or self._readers is None:
            raise StoreError("store is closed" if self._closed else "store not started")
        if revision == 0:
            return self._revision
        if revision > self._revision:
            raise FutureRevision(revision, self._revision)
        if revision <= self._compacted:
            raise Compacted(revision, self._compacted)
        return revision

    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        assert self._loop is not None and self._readers is not None
        return await self._loop.run_in_executor(self._readers, fn, *args)

    def _read_conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._read_local, "conn", None)
        if conn is None:
            conn = self._connect(check_same_thread=False)  # closed by close() from another thread
            self._read_local.conn = conn
            with self._read_conns_lock:
                self._read_conns.append(conn)
        return conn

    def _check_not_compacted(self, revision: int) -> None:
        """After a read of history: compaction publishes its revision before deleting, so a
        read that raced with it is detected here."""
        compacted = self._compacted
        if revision <= compacted:
            raise Compacted(revision, compacted)

    def _get_at(self, key: str, revision: int, historic: bool) -> KeyValue | None:
        row = self._read_conn().execute(_GET_AT, (key, revision)).fetchone()
        if historic:
            self._check_not_compacted(revision)
        if row is None or row[1]:
            return None
        return KeyValue(key, row[3], row[0], row[2])

    def _list_at(
        self, prefix: str, start_after: str, limit: int, revision: int, historic: bool
    ) -> tuple[_KeyValues, bool]:
        # Walk the (name, id) index in key order and keep each key's newest row at or below
        # ``revision``: rows stream in sorted order, so LIMIT stops the scan early (a GROUP BY
        # subquery would materialize and sort the whole range first).
        params: list[Any] = [revision]  # ?1

        def param(value: Any) -> str:
            params.append(value)
            return f"?{len(params)}"

        conditions = []
        if start_after and start_after >= prefix:
            conditions.append(f"kv.name > {param(start_after)}")
        elif prefix:
            conditions.append(f"kv.name >= {param(prefix)}")
        end = _prefix_end(prefix)
        if end is not None:
            conditions.append(f"kv.name < {param(end)}")
        conditions.append("kv.id = (SELECT MAX(n.id) FROM kv AS n WHERE n.name = kv.name AND n.id <= ?1)")
        sql = (
            "SELECT kv.name, kv.value, kv.id, kv.create_revision FROM kv "
            f"WHERE {' AND '.join(conditions)} AND kv.deleted = 0 ORDER BY kv.name"
        )
        if limit > 0:
            sql += f" LIMIT {param(limit + 1)}"
        rows = self._read_conn().execute(sql, params).fetchall()
        if historic:
            self._check_not_compacted(revision)
        more = limit > 0 and len(rows) > limit
        if more:
            rows = rows[:limit]
        return [KeyValue(name, value, mod, created) for name, value, mod, created in rows], more

    def _replay_chunk(self, prefix: str, first: int, last: int) -> tuple[_Events, int]:
        """Events with revisions first..last (at most one chunk of them) and the last
        revision this chunk covers."""
        name_filter, names = _name_filter("r.name", prefix)
        rows = (
            self._read_conn()
            .execute(_REPLAY.format(name_filter=name_filter), (first, last, *names, _REPLAY_CHUNK))
            .fetchall()
        )
        self._check_not_compacted(first)
        events = []
        for rev, name, created, deleted, create_rev, value, prev in rows:
            if created:
                events.append(Event("ADDED", KeyValue(name, value, rev, create_rev)))
            elif deleted:
                events.append(Event("DELETED", KeyValue(name, prev, rev, create_rev), prev))
            else:
                events.append(Event("MODIFIED", KeyValue(name, value, rev, create_rev), prev))
        covered = rows[-1][0] if len(rows) == _REPLAY_CHUNK else last
        return events, covered

    # -- watch -------------------------------------------------------------------------------

    def watch(self, prefix: str, start_revision: int) -> AsyncIterator[Event]:
        """A ``start_revision`` of 0 means "from now on" (the next revision), as in etcd."""
        return self._watch(prefix, start_revision)

    async def _watch(self, prefix: str, start_revision: int) -> AsyncIterator[Event]:
        if self._closed or self._readers is None:
            raise StoreError("store is closed" if self._closed else "store not started")
        start = start_revision or self._revision + 1
        if start <= self._compacted:
            raise Compacted(start, self._compacted)
        watcher = _Watcher(prefix)
        self._watchers.add(watcher)  # from here every dispatched batch (revision > cur) is queued
        try:
            cur = self._revision
            first = start
            while first <= cur:
                if self._closed:
                    return
                events, covered = await self._read(self._replay_chunk, prefix, first, cur)
                for event in events:
                    yield event
                first = covered + 1
            while True:
                batch = await watcher.queue.get()
                if batch is None:
                    return
                for event in batch:
                    if event.kv.mod_revision >= start:
                        yield event
        finally:
            self._watchers.discard(watcher)

    def _dispatch(self, completions: _Completions, events: _Events) -> None:
        """On the loop: publish one committed batch (or a compaction, or the close)."""
        if events:
            self._revision = events[-1].kv.mod_revision
            for watcher in self._watchers:
                prefix = watcher.prefix
                matching = events if not prefix else [e for e in events if e.kv.key.startswith(prefix)]
                if matching:
                    watcher.queue.put_nowait(matching)
        for future, outcome in completions:
            if future.done():  # the caller gave up waiting; the write happened anyway
                continue
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

    # -- writer thread -----------------------------------------------------------------------

    def _connect(self, *, check_same_thread: bool = True) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self._path, isolation_level=None, check_same_thread=check_same_thread, cached_statements=64
        )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self._synchronous}")
        conn.execute("PRAGMA cache_size=-8192")  # KiB: 8 MiB of page cache per connection
        conn.execute("PRAGMA mmap_size=0")  # no mmap: mapped pages would count in the server's RSS
        conn.execute("PRAGMA temp_store=MEMORY")
        conn.execute("PRAGMA busy_timeout=5000")
        return conn

    def _post(self, completions: _Completions, events: _Events) -> None:
        assert self._loop is not None
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting
            self._loop.call_soon_threadsafe(self._dispatch, completions, events)

    def _writer_main(self, ready: asyncio.Future[tuple[int, int]]) -> None:
        try:
            conn = self._connect()
            conn.executescript(_SCHEMA)
            row = conn.execute("SELECT value FROM meta WHERE name = 'compacted_revision'").fetchone()
            self._compacted = row[0] if row else 0
            max_id = conn.execute("SELECT MAX(id) FROM kv").fetchone()[0] or 0
            self._next_revision = max(max_id, self._compacted) + 1
            self._live = {name: (mod, created) for name, mod, created in conn.execute(_LOAD_LIVE)}
        except BaseException as exc:
            self._post([(ready, exc)], [])
            return
        self._post([(ready, (self._next_revision - 1, self._compacted))], [])
        closing: asyncio.Future[Any] | None = None
        try:
            while closing is None:
                batch = [self._requests.get()]
                with contextlib.suppress(queue.Empty):
                    while True:
                        batch.append(self._requests.get_nowait())
                try:
                    closing = self._run_batch(conn, batch)
                except Exception as exc:  # a bug: fail this batch's callers, keep serving
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    self._post([(r.future, StoreError(f"internal error: {exc!r}")) for r in batch], [])
        finally:
            conn.close()
            if closing is not None:
                self._post([(closing, None)], [])

    def _run_batch(self, conn: sqlite3.Connection, batch: _Requests) -> asyncio.Future[Any] | None:
        """Apply requests in order, committing writes as one transaction; compaction and
        close first commit what precedes them. Returns the close request's future, if any."""
        writes: list[_Request] = []
        for request in batch:
            if request.op <= _DELETE:
                writes.append(request)
                continue
            self._commit_writes(conn, writes)
            writes = []
            if request.op == _COMPACT:
                self._post([(request.future, self._compact(conn, request.expected))], [])
            else:  # _CLOSE: nothing can be queued after it (close() refuses new requests first)
                return request.future
        self._commit_writes(conn, writes)
        return None

    def _commit_writes(self, conn: sqlite3.Connection, writes: _Requests) -> None:
        if not writes:
            return
        live = self._live
        first_revision = self._next_revision
        rev = first_revision
        undo: list[tuple[str, tuple[int, int] | None]] = []
        rows: list[tuple[int, str, int, int, int, int, bytes]] = []
        written: dict[int, bytes] = {}  # values of this batch's rows, not yet in the table
        completions: _Completions = []
        events: list[Event] = []
        for w in writes:
            key = w.key
            entry = live.get(key)
            if w.op == _CREATE:
                if entry is not None:
                    completions.append((w.future, KeyExists(key)))
                    continue
                kv = KeyValue(key, w.value, rev, rev)
                rows.append((rev, key, 1, 0, rev, 0, w.value))
                events.append(Event("ADDED", kv))
            else:
                if entry is None:
                    completions.append((w.future, KeyNotFound(key)))
                    continue
                mod, created = entry
                if w.expected and w.expected != mod:
                    completions.append((w.future, RevisionConflict(key, w.expected, mod)))
                    continue
                prev = written.get(mod)
                if prev is None:
                    prev = conn.execute(_VALUE_AT, (mod,)).fetchone()[0]
                if w.op == _UPDATE:
                    kv = KeyValue(key, w.value, rev, created)
                    rows.append((rev, key, 0, 0, created, mod, w.value))
                    events.append(Event("MODIFIED", kv, prev))
                else:
                    kv = KeyValue(key, prev, rev, created)
                    rows.append((rev, key, 0, 1, created, mod, b""))
                    events.append(Event("DELETED", kv, prev))
            undo.append((key, entry))
            if w.op == _DELETE:
                del live[key]
            else:
                live[key] = (rev, kv.create_revision)
                written[rev] = w.value
            completions.append((w.future, kv))
            rev += 1
        if rows:
            try:
                conn.execute("BEGIN")
                conn.executemany(_INSERT, rows)
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                for key, entry in reversed(undo):
                    if entry is None:
                        live.pop(key, None)
                    else:
                        live[key] = entry
                completions = [
                    (f, StoreError(f"write failed: {exc}") if isinstance(o, KeyValue) else o)
                    for f, o in completions
                ]
                events = []
                rev = first_revision
            else:
                self._commits += 1
        self._next_revision = rev
        self._post(completions, events)

    def _compact(self, conn: sqlite3.Connection, revision: int) -> None | BaseException:
        previous = self._compacted
        if revision <= previous:
            return None
        self._compacted = revision  # published before the rows go: see _check_not_compacted
        try:
            conn.execute("BEGIN")
            conn.execute(_COMPACT_SUPERSEDED, (previous, revision))
            conn.execute(_COMPACT_DELETED, (previous, revision))
            conn.execute(_SET_COMPACTED, (revision,))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            self._compacted = previous
            return StoreError(f"compaction failed: {exc}")
        return None


if TYPE_CHECKING:
    _protocol_check: type[Store] = SQLiteStore
