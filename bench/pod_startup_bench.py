"""Pod startup latency on one real node: create → Running seen by a watch, for 30 pods.

Starts `kubeherd server` (with its kubelet and containerd) in a temporary data dir, waits for
the node, creates 30 busybox pods at once through the API, and times each from its create
call to the first watch event that shows it Running. Beside it, in the same run, the raw
runtime: `ctr run` of the same image on the same containerd (no sandbox, no CNI), the
floor any kubelet stands on. Targets: p50 ≤ 0.5 s, p99 ≤ 1 s, all 30 within 15 s.

Run as root: `.venv/bin/python bench/pod_startup_bench.py`. Leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kubeherd.cli.killall import killall_sync  # noqa: E402
from kubeherd.client import APIClient, HTTPTransport, KubeConfig, ResourceRef  # noqa: E402
from kubeherd.kubelet.images import BUSYBOX_IMAGE  # noqa: E402
from kubeherd.kubelet.runtime import ContainerdLayout  # noqa: E402
from tests.integration.conftest import start_server, stop_server  # noqa: E402

PODS = ResourceRef("v1", "pods", True, "Pod")
COUNT = 30


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def measure(kubeconfig: Path) -> tuple[list[float], float]:
    client = APIClient(HTTPTransport(KubeConfig.load(str(kubeconfig)), user_agent="pod-startup-bench"))
    created: dict[str, float] = {}
    running: dict[str, float] = {}
    listing = await client.list(PODS, "default")
    rv = listing["metadata"]["resourceVersion"]

    async def watch() -> None:
        async for event in client.watch(PODS, "default", resource_version=rv):
            obj = event.get("object") or {}
            name = (obj.get("metadata") or {}).get("name", "")
            if (obj.get("status") or {}).get("phase") == "Running" and name in created and name not in running:
                running[name] = time.monotonic()
                if len(running) == COUNT:
                    return

    watcher = asyncio.ensure_future(watch())
    await asyncio.sleep(0.2)
    start = time.monotonic()

    async def create(i: int) -> None:
        name = f"bench-{i}"
        created[name] = time.monotonic()
        await client.create(PODS, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {
            "terminationGracePeriodSeconds": 0,
            "containers": [{"name": "c", "image": BUSYBOX_IMAGE, "command": ["sleep", "3600"]}]}}, "default")

    await asyncio.gather(*(create(i) for i in range(COUNT)))
    await asyncio.wait_for(watcher, 60)
    total = max(running.values()) - start
    await client.transport.close()
    return [running[n] - created[n] for n in created], total


def ctr_run(layout: ContainerdLayout, n: int = 5) -> list[float]:
    times = []
    for i in range(n):
        t0 = time.monotonic()
        subprocess.run(["ctr", "--address", str(layout.socket), "-n", "k8s.io", "run", "--rm", BUSYBOX_IMAGE,
                        f"bench-ctr-{i}", "true"], check=True, capture_output=True)
        times.append(time.monotonic() - t0)
    return times


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="kh", dir="/tmp"))
    cluster = start_server(tmp, agent=True)
    layout = ContainerdLayout(cluster.data_dir)
    try:
        deadline = time.monotonic() + 60
        while "Ready" not in cluster.kubectl("get", "nodes", check=False).stdout:
            if time.monotonic() > deadline:
                raise SystemExit("the node did not become Ready")
            time.sleep(0.2)
        latencies, total = asyncio.run(measure(cluster.kubeconfig))
        raw = ctr_run(layout)
        print(f"pod startup, {COUNT} pods at once on one node (create → Running seen by watch):")
        print(f"  p50 {pct(latencies, 50):.3f}s  p99 {pct(latencies, 99):.3f}s  max {max(latencies):.3f}s  "
              f"all {COUNT} Running after {total:.2f}s")
        print("  targets: p50 ≤ 0.5s, p99 ≤ 1s, all within 15s")
        print(f"raw `ctr run --rm` of the same image (create+start+exit+remove, one at a time): "
              f"median {statistics.median(raw):.3f}s  min {min(raw):.3f}s")
    finally:
        stop_server(cluster)
        _, left = killall_sync(cluster.data_dir)  # pods, containerd, mounts, leases, the bridge if unused
        if left:
            raise SystemExit(f"kubeherd killall left {left} under {tmp}")
        subprocess.run(["rm", "-rf", str(tmp)])


if __name__ == "__main__":
    main()
