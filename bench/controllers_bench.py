"""Controller benchmark: a Deployment of 1,000 replicas from create to all pods created and to all
pods available, with the controllers' work-queue latency, beside the same 1,000 pods created
directly through the API by 16 clients in the same run (the floor the controllers build on).

Runs a real `kubeherd server --simulate-nodes N`: the scheduler binds the pods and the simulated
nodes report them Running and Ready, so "available" means what it means on a cluster.

    .venv/bin/python bench/controllers_bench.py [--replicas 1000] [--nodes 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_bench import Connection, create_many  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def deployment(name: str, replicas: int) -> bytes:
    return json.dumps({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "web", "image": "nginx:1.25",
                                                       "resources": {"requests": {"cpu": "10m"}}}]}}},
    }).encode()


async def run(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="kubeherd-cbench-"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "kubeherd.cli.main", "server", "--data-dir", str(tmp / "data"),
         "--https-listen-port", "0", "--bind-address", "127.0.0.1", "--disable-agent", "--simulate-nodes", str(args.nodes)],
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
    try:
        conn = await Connection.open(port, context)
        for ns in ("ref", "bench"):
            await conn.request("POST", "/api/v1/namespaces", json.dumps(
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}).encode())
        seconds, _ = await create_many(port, context, "ref", [f"p{i:05d}" for i in range(args.replicas)], 16)
        print(f"reference: {args.replicas} pods created directly by 16 clients: {seconds:.2f} s")
        await conn.request("DELETE", "/api/v1/namespaces/ref")

        started = time.perf_counter()
        status, body = await conn.request("POST", "/apis/apps/v1/namespaces/bench/deployments",
                                          deployment("big", args.replicas))
        assert status == 201, body[:300]
        created_at = available_at = None
        while available_at is None and time.perf_counter() - started < args.timeout:
            await asyncio.sleep(0.25)
            if created_at is None:
                status, body = await conn.request("GET", "/api/v1/namespaces/bench/pods?limit=1")
                remaining = json.loads(body)["metadata"].get("remainingItemCount", 0)
                if 1 + remaining >= args.replicas:
                    created_at = time.perf_counter() - started
            status, body = await conn.request("GET", "/apis/apps/v1/namespaces/bench/deployments/big")
            if json.loads(body).get("status", {}).get("availableReplicas", 0) >= args.replicas:
                available_at = time.perf_counter() - started
        status, body = await conn.request("GET", "/metrics")
        metrics = body.decode()
        conn.close()
    finally:
        proc.terminate()
        proc.wait(10)
    print(f"Deployment of {args.replicas} replicas on {args.nodes} simulated nodes:")
    print(f"  all pods created:    {created_at:.2f} s" if created_at else "  all pods created:    not within timeout")
    print(f"  all pods available:  {available_at:.2f} s" if available_at else "  all pods available:  not within timeout")
    for name in ("replicaset", "deployment"):
        m = re.search(rf'workqueue_queue_duration_seconds{{name="{name}",quantile="0.99"}} ([0-9.]+)', metrics)
        if m:
            print(f"  {name} work-queue latency p99: {float(m.group(1)) * 1000:.1f} ms")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--replicas", type=int, default=1000)
    p.add_argument("--nodes", type=int, default=50)
    p.add_argument("--timeout", type=float, default=300)
    uvloop.run(run(p.parse_args()))


if __name__ == "__main__":
    main()
