"""Pod startup latency on one real node: create → Running seen by a watch, for 1 pod and 30 pods.

Starts `kubeherd server` (with its kubelet and containerd) in a temporary data dir, waits for
the node, creates busybox pods through the API and times each from its create call to the
first watch event that shows it Running: first one pod alone (three times), then 30 pods at
once. Each pod's time is split into phases, from the watch (when it was seen bound) and the
runtime's own timestamps read back over CRI (sandbox created = RunPodSandbox began,
container created = CreateContainer returned, container started = StartContainer returned):

    scheduled   create call → watch sees spec.nodeName
    to runtime  → RunPodSandbox begins (kubelet informer, queue, volumes, first runtime reads)
    sandbox     → container created (network namespace, CNI, pause container, CreateContainer)
    start       → container started (StartContainer)
    report      → Running seen by the watch (status computed, patched, watched)

Beside them, in the same run: `ctr run` of the same image on the same containerd (no
sandbox, no CNI) and the same RunPodSandbox/CreateContainer/StartContainer sequence sent
straight over CRI (1 pod, and 30 at once), the floors any kubelet stands on. Targets:
p50 ≤ 0.5 s, p99 ≤ 1 s, all 30 within 15 s.

Run as root: `.venv/bin/python bench/pod_startup_bench.py`. Leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kubeherd.cli.killall import killall_sync  # noqa: E402
from kubeherd.client import APIClient, HTTPTransport, KubeConfig, ResourceRef  # noqa: E402
from kubeherd.kubelet.cri import ContainerFilter, CRIClient, PodSandboxFilter  # noqa: E402
from kubeherd.kubelet.images import BUSYBOX_IMAGE  # noqa: E402
from kubeherd.kubelet.kuberuntime import MANAGED, POD_NAME, POD_NAMESPACE, container_config, sandbox_config  # noqa: E402
from kubeherd.kubelet.runtime import ContainerdLayout  # noqa: E402
from tests.integration.conftest import start_server, stop_server  # noqa: E402

PODS = ResourceRef("v1", "pods", True, "Pod")
COUNT = 30
SOLO_RUNS = 3
FLOOR_AT_A_TIME = 16  # as the kubelet's start gate on 2 cores
PHASES = ("scheduled", "to runtime", "sandbox", "start", "report")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy() -> tuple[int, int]:
    """(all, idle) jiffies of the whole machine so far."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(values), values[3] + values[4]


def busybox_pod(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {
        "terminationGracePeriodSeconds": 0,
        "containers": [{"name": "c", "image": BUSYBOX_IMAGE, "command": ["sleep", "3600"]}]}}


async def start_pods(client: APIClient, names: list[str]) -> dict[str, list[float]]:
    """Create ``names`` at once; per pod the wall-clock marks: created, bound seen, Running seen."""
    created: dict[str, float] = {}
    bound: dict[str, float] = {}
    running: dict[str, float] = {}
    listing = await client.list(PODS, "default")
    rv = listing["metadata"]["resourceVersion"]

    async def watch() -> None:
        async for event in client.watch(PODS, "default", resource_version=rv):
            obj = event.get("object") or {}
            name = (obj.get("metadata") or {}).get("name", "")
            if name not in created:
                continue
            now = time.time()
            if (obj.get("spec") or {}).get("nodeName"):
                bound.setdefault(name, now)
            if (obj.get("status") or {}).get("phase") == "Running" and name not in running:
                running[name] = now
                if len(running) == len(names):
                    return

    watcher = asyncio.ensure_future(watch())
    await asyncio.sleep(0.2)

    async def create(name: str) -> None:
        created[name] = time.time()
        await client.create(PODS, busybox_pod(name), "default")

    await asyncio.gather(*(create(name) for name in names))
    await asyncio.wait_for(watcher, 60)
    return {name: [created[name], bound.get(name, running[name]), running[name]] for name in names}


async def runtime_marks(cri: CRIClient, names: list[str]) -> dict[str, tuple[float, float, float]]:
    """Per pod, from the runtime: sandbox created, container created, container started (seconds)."""
    sandboxes = {s.id: s for s in await cri.list_pod_sandbox(PodSandboxFilter(label_selector={POD_NAMESPACE: "default"}))}
    marks = {}
    for c in await cri.list_containers(ContainerFilter(label_selector={POD_NAMESPACE: "default"})):
        sandbox = sandboxes.get(c.pod_sandbox_id)
        name = sandbox.labels.get(POD_NAME, "") if sandbox else ""
        if name in names and sandbox is not None:
            status = await cri.container_status(c.id)
            marks[name] = (sandbox.created_at / 1e9, status.created_at / 1e9, status.started_at / 1e9)
    return marks


def phases(times: dict[str, list[float]], marks: dict[str, tuple[float, float, float]]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {p: [] for p in PHASES}
    for name, (created, bound, running) in times.items():
        if name not in marks:
            continue
        points = [created, bound, *marks[name], running]
        for phase, a, b in zip(PHASES, points[:-1], points[1:], strict=True):
            out[phase].append(b - a)
    return out


def report(title: str, times: dict[str, list[float]], marks: dict[str, tuple[float, float, float]]) -> None:
    latencies = [running - created for created, _, running in times.values()]
    print(f"{title}: p50 {pct(latencies, 50):.3f}s  p99 {pct(latencies, 99):.3f}s  max {max(latencies):.3f}s")
    split = phases(times, marks)
    print("  phases (median / max): " + "  ".join(f"{p} {statistics.median(v):.3f}/{max(v):.3f}"
                                                   for p, v in split.items()))


async def measure(kubeconfig: Path, layout: ContainerdLayout, server_pid: int) -> None:
    client = APIClient(HTTPTransport(KubeConfig.load(str(kubeconfig)), user_agent="pod-startup-bench"))
    cri = CRIClient(str(layout.socket))
    try:
        solo: dict[str, list[float]] = {}
        for i in range(SOLO_RUNS):
            solo |= await start_pods(client, [f"solo-{i}"])
        report(f"one pod alone ({SOLO_RUNS} runs)", solo, await runtime_marks(cri, list(solo)))
        start, server_cpu, (all0, idle0) = time.time(), cpu_seconds(server_pid), machine_busy()
        burst = await start_pods(client, [f"bench-{i}" for i in range(COUNT)])
        server_cpu, (all1, idle1) = cpu_seconds(server_pid) - server_cpu, machine_busy()
        total = max(running for _, _, running in burst.values()) - start
        report(f"{COUNT} pods at once", burst, await runtime_marks(cri, list(burst)))
        print(f"  all {COUNT} Running after {total:.2f}s;  targets: p50 ≤ 0.5s, p99 ≤ 1s, all within 15s")
        print(f"  meanwhile the server process (API, scheduler, kubelet) used {server_cpu:.2f}s of CPU; "
              f"the machine was {1 - (idle1 - idle0) / max(1, all1 - all0):.0%} busy on {os.cpu_count()} cores")
    finally:
        await cri.close()
        await client.transport.close()


async def cri_floor(layout: ContainerdLayout, count: int, at_a_time: int = 0) -> list[float]:
    """RunPodSandbox → CreateContainer → StartContainer straight over CRI for ``count`` pods sent at
    once (or ``at_a_time`` in flight), with the kubelet's own configs; the times from the start until
    each pod's container started. Removes them after."""
    cri = CRIClient(str(layout.socket))
    logs = layout.pod_logs_dir
    slots = asyncio.Semaphore(at_a_time or count)
    t0 = time.monotonic()

    async def one(i: int) -> float:
        pod = busybox_pod(f"floor-{i}")
        pod["metadata"] |= {"namespace": "bench-floor", "uid": str(uuid.uuid4())}
        async with slots:
            await start_one(pod)
        return time.monotonic() - t0

    async def start_one(pod: dict) -> None:
        config = sandbox_config(pod, 0, logs)
        del config.labels[MANAGED]  # not the kubelet's: its housekeeping would remove them
        sandbox_id = await cri.run_pod_sandbox(config)
        container = pod["spec"]["containers"][0]
        cfg = container_config(pod, container, kind="app", restart_count=0, image_ref=BUSYBOX_IMAGE, env=[],
                               mount_list=[])
        await cri.start_container(await cri.create_container(sandbox_id, cfg, config))

    try:
        return await asyncio.gather(*(one(i) for i in range(count)))
    finally:
        for sandbox in await cri.list_pod_sandbox(PodSandboxFilter(label_selector={POD_NAMESPACE: "bench-floor"})):
            await cri.stop_pod_sandbox(sandbox.id)
            await cri.remove_pod_sandbox(sandbox.id)
        await cri.close()


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
        asyncio.run(measure(cluster.kubeconfig, layout, cluster.process.pid))
        raw = ctr_run(layout)
        print(f"raw `ctr run --rm` of the same image (create+start+exit+remove, one at a time): "
              f"median {statistics.median(raw):.3f}s  min {min(raw):.3f}s")
        alone = [asyncio.run(cri_floor(layout, 1))[0] for _ in range(3)]
        burst = asyncio.run(cri_floor(layout, COUNT))
        queued = asyncio.run(cri_floor(layout, COUNT, at_a_time=FLOOR_AT_A_TIME))
        print(f"raw CRI sandbox+create+start, same configs: 1 pod median {statistics.median(alone):.3f}s;  "
              f"{COUNT} at once p50 {pct(burst, 50):.3f}s  max {max(burst):.3f}s;  "
              f"{FLOOR_AT_A_TIME} at a time p50 {pct(queued, 50):.3f}s  max {max(queued):.3f}s")
    finally:
        stop_server(cluster)
        _, left = killall_sync(cluster.data_dir)  # pods, containerd, mounts, leases, the bridge if unused
        if left:
            raise SystemExit(f"kubeherd killall left {left} under {tmp}")
        subprocess.run(["rm", "-rf", str(tmp)])


if __name__ == "__main__":
    main()
