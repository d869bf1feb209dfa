"""Density benchmark: 1,000 simulated nodes, 10,000 pods as Deployments, end to end.

Starts `kubeherd server --simulate-nodes 1000` (API server, controllers, scheduler and the
simulated kubelets all in one process, as a single-node install runs them), then creates
Deployments totalling 10,000 replicas and follows every pod through a watch:
- scheduling throughput: pods bound per second, from the first pod created to the last bound;
- pods reaching Running per second, and the time until all 10,000 are Running;
- pod startup latency p50/p99: pod ADDED seen by the watch → Running and Ready seen by the watch,
  for the saturation phase (all pods created at once: mostly time spent queued) and for a latency
  phase after it (100 pods created one at a time at 10/s on the loaded cluster, as upstream's
  clusterloader2 measures the pod-startup SLO);
- API mutating-call latency p99 during the run, from a probe that writes a ConfigMap every 100 ms;
- the server's peak RSS (VmHWM).
Beside them, measured in the same run: 10,000 pods created directly through the API by 16 clients
(the floor everything else builds on), and upstream's published references.

    .venv/bin/python bench/density_bench.py [--nodes 1000] [--pods 10000] [--deployments 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httptools
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_bench import Connection, create_many, percentile  # noqa: E402
from controllers_bench import deployment  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def unscheduled_pod(name: str) -> bytes:
    return json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "ref"}},
                       "spec": {"schedulerName": "none", "containers": [{"name": "web", "image": "nginx:1.25"}]}}
                      ).encode()


def proc_status(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


class PodWatch:
    """Follows pods in a namespace through one watch, stamping when each was seen created, bound, Running."""

    def __init__(self) -> None:
        self.created: dict[str, float] = {}
        self.bound: dict[str, float] = {}
        self.running: dict[str, float] = {}
        self._buffer = b""

    def on_body(self, body: bytes) -> None:
        self._buffer += body
        now = time.perf_counter()
        while b"\n" in self._buffer:
            line, self._buffer = self._buffer.split(b"\n", 1)
            if not line.strip():
                continue
            event = json.loads(line)
            pod = event.get("object") or {}
            name = pod.get("metadata", {}).get("name")
            if not name or event.get("type") not in ("ADDED", "MODIFIED"):
                continue
            self.created.setdefault(name, now)
            if (pod.get("spec") or {}).get("nodeName"):
                self.bound.setdefault(name, now)
            status = pod.get("status") or {}
            ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
            if status.get("phase") == "Running" and ready:
                self.running.setdefault(name, now)

    async def run(self, port: int, context: ssl.SSLContext, namespace: str, rv: str) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context, limit=64 * 1024 * 1024)
        writer.write(f"GET /api/v1/namespaces/{namespace}/pods?watch=true&resourceVersion={rv} HTTP/1.1\r\n"
                     f"Host: x\r\n\r\n".encode())
        parser = httptools.HttpResponseParser(self)
        try:
            while True:
                data = await reader.read(1 << 20)
                if not data:
                    return
                parser.feed_data(data)
        finally:
            writer.close()


async def probe(port: int, context: ssl.SSLContext, latencies: list[float], stop: asyncio.Event) -> None:
    """A steady trickle of mutating calls whose latency stands for what users see during the run."""
    conn = await Connection.open(port, context)
    i = 0
    while not stop.is_set():
        body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"probe-{i}"}}).encode()
        t0 = time.perf_counter()
        status, _ = await conn.request("POST", "/api/v1/namespaces/default/configmaps", body)
        latencies.append(time.perf_counter() - t0)
        i += 1
        await asyncio.sleep(0.1)
    conn.close()


async def run(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="kubeherd-density-"))
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "kubeherd.cli.main", "server", "--data-dir", str(tmp / "data"),
         "--https-listen-port", "0", "--bind-address", "127.0.0.1", "--disable-agent", "--simulate-nodes", str(args.nodes),
         # a /16 of /24s holds 256 nodes: give a thousand nodes a pod network big enough
         "--cluster-cidr", "10.64.0.0/12"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
    assert proc.stdout is not None
    port = 0
    for line in proc.stdout:
        if "listening on" in line:
            port = int(line.rsplit(":", 1)[1])
        if line.startswith("kubeconfig written"):
            break
    print(f"server up with {args.nodes} simulated nodes registered in {time.perf_counter() - started:.1f} s")
    tls = tmp / "data" / "server" / "tls"
    context = ssl.create_default_context(cafile=str(tls / "ca.crt"))
    context.load_cert_chain(str(tls / "client-admin.crt"), str(tls / "client-admin.key"))
    results: dict[str, str] = {}
    try:
        conn = await Connection.open(port, context)
        for ns in ("ref", "density"):
            await conn.request("POST", "/api/v1/namespaces", json.dumps(
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}).encode())
        # the floor: pods created directly (for another scheduler, so nothing else runs meanwhile)
        names = [f"r{i:05d}" for i in range(args.pods)]
        seconds, _ = await create_many(port, context, "ref", names, 16, make=unscheduled_pod)
        results["reference: pods created directly through the API (16 clients)"] = \
            f"{args.pods / seconds:.0f} pods/s ({seconds:.1f} s for {args.pods})"
        await conn.request("DELETE", "/api/v1/namespaces/ref")
        await asyncio.sleep(2)

        _, body = await conn.request("GET", "/api/v1/namespaces/density/pods")
        rv = json.loads(body)["metadata"]["resourceVersion"]
        watch = PodWatch()
        watching = asyncio.ensure_future(watch.run(port, context, "density", rv))
        latencies: list[float] = []
        stop = asyncio.Event()
        probing = asyncio.ensure_future(probe(port, context, latencies, stop))
        rss_peak = 0.0
        t0 = time.perf_counter()
        per = args.pods // args.deployments
        for i in range(args.deployments):
            status, body = await conn.request("POST", "/apis/apps/v1/namespaces/density/deployments",
                                              deployment(f"d{i}", per))
            assert status == 201, body[:300]
        while len(watch.running) < per * args.deployments and time.perf_counter() - t0 < args.timeout:
            await asyncio.sleep(0.5)
            rss_peak = max(rss_peak, proc_status(proc.pid, "VmRSS"))
        elapsed = time.perf_counter() - t0
        # latency phase, as clusterloader2 measures the startup SLO: on the loaded cluster, pods
        # created one at a time at a steady rate, each timed from ADDED to Running+Ready
        latency_names = [f"lat-{i}" for i in range(args.latency_pods)]
        sent: dict[str, float] = {}
        for name in latency_names:
            body = json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                               "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]}}).encode()
            sent[name] = time.perf_counter()  # the create call leaving the client: the clock starts
            await conn.request("POST", "/api/v1/namespaces/density/pods", body)
            await asyncio.sleep(1 / args.latency_rate)
        deadline = time.perf_counter() + 60
        while any(n not in watch.running for n in latency_names) and time.perf_counter() < deadline:
            await asyncio.sleep(0.2)
        stop.set()
        await probing
        watching.cancel()
        hwm = proc_status(proc.pid, "VmHWM")
        conn.close()
    finally:
        proc.terminate()
        proc.wait(30)
    total = per * args.deployments
    first = min(watch.created.values()) if watch.created else t0
    bound = {n: t for n, t in watch.bound.items() if not n.startswith("lat-")}
    running = {n: t for n, t in watch.running.items() if not n.startswith("lat-")}
    if bound:
        span = max(bound.values()) - first
        results["pods scheduled"] = f"{len(bound)}/{total}, {len(bound) / span:.0f} pods/s"
    if running:
        span = max(running.values()) - first
        results["pods Running"] = (f"{len(running)}/{total}, {len(running) / span:.0f} pods/s, "
                                   f"all Running {elapsed:.1f} s after the first Deployment was created"
                                   if len(running) == total else
                                   f"{len(running)}/{total} within {args.timeout:.0f} s")
        saturation = [watch.running[n] - watch.created[n] for n in watch.running
                      if n in watch.created and not n.startswith("lat-")]
        results["saturation phase: startup p50 / p99 (all pods created at once; ADDED → Running+Ready)"] = \
            f"{percentile(saturation, 50):.2f} s / {percentile(saturation, 99):.2f} s"
        latency = [watch.running[n] - sent[n] for n in watch.running if n in sent]
        if latency:
            results[f"latency phase: startup p50 / p99 ({len(latency)} pods at {args.latency_rate:g}/s on the "
                    f"loaded cluster)"] = f"{percentile(latency, 50):.2f} s / {percentile(latency, 99):.2f} s"
    results["API mutating-call latency p99 during the run (probe)"] = \
        f"{percentile(latencies, 99) * 1000:.0f} ms over {len(latencies)} calls"
    results["server peak RSS (VmHWM)"] = f"{hwm:.0f} MB (sampled max {rss_peak:.0f} MB)"
    print(f"density: {args.nodes} simulated nodes, {total} pods in {args.deployments} Deployments")
    for key, value in results.items():
        print(f"  {key}: {value}")
    print("upstream references: kube-scheduler CI floor 270 pods/s (SchedulingBasic, 5,000 nodes); kwok "
          "10,000 pods Running in 120 s; SLOs pod startup p99 <= 5 s, API mutating p99 <= 1 s")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--nodes", type=int, default=1000)
    p.add_argument("--pods", type=int, default=10_000)
    p.add_argument("--deployments", type=int, default=10)
    p.add_argument("--timeout", type=float, default=600)
    p.add_argument("--latency-pods", type=int, default=100)
    p.add_argument("--latency-rate", type=float, default=10.0, help="pods/s in the latency phase")
    uvloop.run(run(p.parse_args()))


if __name__ == "__main__":
    main()
