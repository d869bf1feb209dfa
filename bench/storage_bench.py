"""Create throughput of SQLiteStore beside raw sqlite3 with the same durability settings.

Prints acknowledged creates/s for SQLiteStore with 1 and 16 concurrent asyncio callers, and
for plain sqlite3 inserts into a table of the same shape (WAL, synchronous=FULL): one
transaction per insert (what a store without group commit would pay per write) and batches
of 16 per transaction (the ceiling group commit can reach at 16 callers). Medians of
``--runs`` runs, each on a fresh database in a temporary directory.

    .venv/bin/python bench/storage_bench.py [--writes 3000] [--runs 3] [--value-size 1024]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable

from kubeherd.storage.sqlite import SQLiteStore

TABLE = (
    "CREATE TABLE kv (id INTEGER PRIMARY KEY, name TEXT NOT NULL, created INTEGER NOT NULL, "
    "deleted INTEGER NOT NULL, create_revision INTEGER NOT NULL, prev_revision INTEGER NOT NULL, "
    "value BLOB NOT NULL); CREATE INDEX kv_name_id ON kv (name, id);"
)
INSERT = "INSERT INTO kv VALUES (?, ?, 1, 0, ?, 0, ?)"


def store_creates(path: str, writes: int, callers: int, value: bytes) -> float:
    async def main() -> float:
        store = SQLiteStore(path)
        await store.start()
        per_caller = writes // callers

        async def caller(c: int) -> None:
            for i in range(per_caller):
                await store.create(f"/registry/pods/ns{c}/pod-{i}", value)

        started = time.perf_counter()
        await asyncio.gather(*(caller(c) for c in range(callers)))
        elapsed = time.perf_counter() - started
        await store.close()
        return per_caller * callers / elapsed

    return asyncio.run(main())


def raw_inserts(path: str, writes: int, batch: int, value: bytes) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.executescript(TABLE)
    started = time.perf_counter()
    for first in range(1, writes + 1, batch):
        rows = [(rev, f"/registry/pods/ns/pod-{rev}", rev, value) for rev in range(first, first + batch)]
        conn.execute("BEGIN")
        conn.executemany(INSERT, rows)
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return writes / elapsed


def median_of(runs: int, measure: Callable[[str], float]) -> float:
    results = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            results.append(measure(os.path.join(tmp, "bench.db")))
    return statistics.median(results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--value-size", type=int, default=1024)
    args = parser.parse_args()
    value = os.urandom(args.value_size)
    rows = [
        ("SQLiteStore, 1 caller", lambda p: store_creates(p, args.writes, 1, value)),
        ("SQLiteStore, 16 callers", lambda p: store_creates(p, args.writes, 16, value)),
        ("raw sqlite3, 1 insert per transaction", lambda p: raw_inserts(p, args.writes, 1, value)),
        ("raw sqlite3, 16 inserts per transaction", lambda p: raw_inserts(p, args.writes, 16, value)),
    ]
    print(f"{args.writes} creates of {args.value_size} B, WAL + synchronous=FULL, median of {args.runs} runs")
    for name, measure in rows:
        print(f"  {name:<42} {median_of(args.runs, measure):>10,.0f} creates/s")


if __name__ == "__main__":
    main()
