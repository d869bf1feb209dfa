"""API server benchmark: throughput, list time, watch latency and memory, beside raw SQLite.

Starts a real `kubeherd server` in a temporary data dir and drives it over HTTPS with a lean
asyncio client (keep-alive connections, httptools parsing), so the figures measure the server,
not a heavy client library. The reference figures are raw SQLite inserts with the same
durability settings as the server's datastore (WAL, synchronous=FULL), measured in the same run
on the same machine: compare the ratios, these machines are shared and noisy.

    .venv/bin/python bench/api_bench.py [--pods 10000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sqlite3
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httptools
import uvloop

ROOT = Path(__file__).resolve().parent.parent


class Connection:
    """One keep-alive HTTPS connection; requests are sent one at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int, context: ssl.SSLContext) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context, limit=64 * 1024 * 1024)
        return cls(reader, writer)

    async def request(self, method: str, path: str, body: bytes = b"",
                      content_type: str = "application/json") -> tuple[int, bytes]:
        head = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
                f"Accept: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
        self.writer.write(head + body)
        return await self._response()

    async def _response(self) -> tuple[int, bytes]:
        done = False
        chunks: list[bytes] = []

        class Sink:
            def on_body(self, b: bytes) -> None:
                chunks.append(b)

            def on_message_complete(self) -> None:
                nonlocal done
                done = True

        parser = httptools.HttpResponseParser(Sink())
        while not done:
            data = await self.reader.read(1 << 20)
            if not data:
                raise ConnectionError("server closed the connection")
            parser.feed_data(data)
        return parser.get_status_code(), b"".join(chunks)

    def close(self) -> None:
        self.writer.close()


def pod(name: str) -> bytes:
    return json.dumps({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "bench", "tier": "web"}},
        "spec": {"containers": [{"name": "web", "image": "nginx:1.25", "ports": [{"containerPort": 80}],
                                 "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]},
    }).encode()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def create_many(port: int, context: ssl.SSLContext, namespace: str, names: list[str],
                      clients: int, make: Callable[[str], bytes] | None = None) -> tuple[float, list[float]]:
    """Create pods with `clients` concurrent connections; returns (seconds, per-call latencies)."""
    queue = list(reversed(names))
    latencies: list[float] = []

    async def worker() -> None:
        conn = await Connection.open(port, context)
        try:
            while queue:
                name = queue.pop()
                t0 = time.perf_counter()
                status, body = await conn.request("POST", f"/api/v1/namespaces/{namespace}/pods", (make or pod)(name))
                latencies.append(time.perf_counter() - t0)
                if status != 201:
                    raise RuntimeError(f"create failed: {status} {body[:200]!r}")
        finally:
            conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return time.perf_counter() - started, latencies


async def get_many(port: int, context: ssl.SSLContext, namespace: str, names: list[str], clients: int) -> float:
    queue = list(names)

    async def worker() -> None:
        conn = await Connection.open(port, context)
        try:
            while queue:
                name = queue.pop()
                status, _ = await conn.request("GET", f"/api/v1/namespaces/{namespace}/pods/{name}")
                assert status == 200
        finally:
            conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return time.perf_counter() - started


async def watch_latency(port: int, context: ssl.SSLContext, namespace: str, count: int) -> list[float]:
    """Milliseconds from a write's acknowledgement to its event arriving on an open watch."""
    conn = await Connection.open(port, context)
    status, body = await conn.request("GET", f"/api/v1/namespaces/{namespace}/configmaps")
    rv = json.loads(body)["metadata"]["resourceVersion"]
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
    writer.write(f"GET /api/v1/namespaces/{namespace}/configmaps?watch=true&resourceVersion={rv} HTTP/1.1\r\n"
                 f"Host: x\r\n\r\n".encode())
    arrived: dict[str, float] = {}
    got_all = asyncio.Event()
    buffer = b""

    class Sink:
        def on_body(self, b: bytes) -> None:
            nonlocal buffer
            buffer += b
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                if line.strip():
                    name = re.search(rb'"name":"([^"]+)"', line)
                    if name:
                        arrived[name.group(1).decode()] = time.perf_counter()
            if len(arrived) >= count:
                got_all.set()

    parser = httptools.HttpResponseParser(Sink())

    async def read() -> None:
        while not got_all.is_set():
            data = await reader.read(65536)
            if not data:
                return
            parser.feed_data(data)

    reading = asyncio.ensure_future(read())
    acked: dict[str, float] = {}
    for i in range(count):
        name = f"lat-{i}"
        body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}).encode()
        status, _ = await conn.request("POST", f"/api/v1/namespaces/{namespace}/configmaps", body)
        acked[name] = time.perf_counter()
        await asyncio.sleep(0.005)
    await asyncio.wait_for(got_all.wait(), 30)
    reading.cancel()
    writer.close()
    conn.close()
    return [max(0.0, arrived[n] - acked[n]) * 1000 for n in acked]


def sqlite_reference(path: Path, count: int, batch: int) -> float:
    """Inserts/s into SQLite with the server's durability (WAL, synchronous=FULL)."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE IF NOT EXISTS kv (id INTEGER PRIMARY KEY, name TEXT, value BLOB)")
    value = pod("reference")
    started = time.perf_counter()
    for start in range(0, count, batch):
        db.execute("BEGIN")
        db.executemany("INSERT INTO kv (name, value) VALUES (?, ?)",
                       [(f"/registry/pods/ref/{i}", value) for i in range(start, min(count, start + batch))])
        db.execute("COMMIT")
    elapsed = time.perf_counter() - started
    db.close()
    return count / elapsed


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def run(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="kubeherd-bench-"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "kubeherd.cli.main", "server", "--data-dir", str(tmp / "data"),
         "--https-listen-port", "0", "--bind-address", "127.0.0.1", "--disable-agent",
         # the API server alone: no controllers or scheduler acting on the pods it stores
         "--disable-controllers", "--disable-scheduler"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
    assert proc.stdout is not None
    port = 0
    for line in proc.stdout:
        if "listening on" in line:
            port = int(line.rsplit(":", 1)[1])
        if line.startswith("kubeconfig written"):
            break
    tls = tmp / "data" / "server" / "tls"
    context = ssl.create_default_context(cafile=str(tls / "ca.crt"))
    context.load_cert_chain(str(tls / "client-admin.crt"), str(tls / "client-admin.key"))
    results: dict[str, list[float]] = {}

    def record(key: str, value: float) -> None:
        results.setdefault(key, []).append(value)

    try:
        conn = await Connection.open(port, context)
        for r in range(args.rounds):
            for ns in (f"one-{r}", f"many-{r}", f"lat-{r}"):
                await conn.request("POST", "/api/v1/namespaces", json.dumps(
                    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}).encode())
                # no controllers here: make the `default` ServiceAccount admission wants for pods
                await conn.request("POST", f"/api/v1/namespaces/{ns}/serviceaccounts", json.dumps(
                    {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}}).encode())
            n1 = args.single
            seconds, lat1 = await create_many(port, context, f"one-{r}", [f"p{i}" for i in range(n1)], 1)
            record("creates/s, 1 client", n1 / seconds)
            record("create p50 ms, 1 client", percentile(lat1, 50) * 1000)
            record("reference: sqlite inserts/s, 1 per txn", sqlite_reference(tmp / f"ref1-{r}.db", n1, 1))
            record("reference: sqlite inserts/s, 16 per txn", sqlite_reference(tmp / f"ref16-{r}.db", n1 * 4, 16))
            if r == 0:
                names = [f"p{i:05d}" for i in range(args.pods)]
                seconds, lat16 = await create_many(port, context, "many-0", names, 16)
                record("creates/s, 16 clients", args.pods / seconds)
                record("mutating p99 ms, 16 clients sustained", percentile(lat16, 99) * 1000)
                record(f"server RSS MB with {args.pods} pods", rss_mb(proc.pid))
            else:
                names = [f"q{i:05d}" for i in range(2000)]
                seconds, lat16 = await create_many(port, context, f"many-{r}", names, 16)
                record("creates/s, 16 clients", 2000 / seconds)
                record("mutating p99 ms, 16 clients sustained", percentile(lat16, 99) * 1000)
            sample = [f"p{i:05d}" for i in range(0, args.pods, max(1, args.pods // 2000))]
            seconds = await get_many(port, context, "many-0", sample * 2, 16)
            record("gets/s, 16 clients", len(sample) * 2 / seconds)
            for _ in range(5):
                t0 = time.perf_counter()
                status, body = await conn.request("GET", "/api/v1/namespaces/many-0/pods")
                record(f"list {args.pods} pods ms", (time.perf_counter() - t0) * 1000)
                assert status == 200 and body.count(b'"kind":"Pod"') >= args.pods
            t0 = time.perf_counter()
            status, body = await conn.request("GET", "/api/v1/pods?limit=500")
            record("list first page of 500 pods ms", (time.perf_counter() - t0) * 1000)
            lat = await watch_latency(port, context, f"lat-{r}", 200)
            record("watch delivery p50 ms", percentile(lat, 50))
            record("watch delivery p99 ms", percentile(lat, 99))
        conn.close()
    finally:
        proc.terminate()
        proc.wait(10)
    print(f"kubeherd API benchmark — {os.cpu_count()} cores, {args.rounds} rounds, medians "
          f"(min … max)")
    width = max(len(k) for k in results)
    for key, values in results.items():
        print(f"  {key:<{width}}  {statistics.median(values):10.1f}   ({min(values):.1f} … {max(values):.1f})")
    ratio = statistics.median(results["creates/s, 16 clients"]) / statistics.median(
        results["reference: sqlite inserts/s, 16 per txn"])
    print(f"  creates/s with 16 clients as a share of raw SQLite (16 per txn): {ratio:.2f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--pods", type=int, default=10_000)
    p.add_argument("--single", type=int, default=500, help="creates measured with one client")
    p.add_argument("--rounds", type=int, default=3)
    uvloop.run(run(p.parse_args()))


if __name__ == "__main__":
    main()
