"""Scheduler throughput without an API server: how many pods per second the framework places.

The scheduler runs as in the server — informer-style intake (`on_pod_add`), the queue, the full
default profile (every filter and score plugin, preemption ready), assume, and a binding cycle —
but binding goes to an in-memory stand-in that reports the bound pod straight back, as the
informer would. So the figure is the scheduling algorithm's own ceiling; API writes, events and
watches come on top in a real cluster.

Scenarios (all on N nodes of 32 cpu / 256Gi / 110 pods, in 4 zones):
- basic: standalone pods with cpu/memory requests (upstream's SchedulingBasic);
- deployment: pods owned by ReplicaSets behind a Service, so the default topology spreading
  (hostname and zone) scores every node;
- anti-affinity: deployment pods with required hostname anti-affinity against their own app
  (so each app's replicas land on distinct nodes).

The reference is a trivial first-fit loop over the same nodes (parse the pod's requests, take
the next node with room): the cost of the bare Python loop, measured in the same run.

    .venv/bin/python bench/scheduler_bench.py [--nodes 1000] [--pods 5000] [--scenario all]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kubeherd.scheduler import Scheduler, StaticListers  # noqa: E402
from kubeherd.scheduler.api import NullAPI  # noqa: E402
from kubeherd.scheduler.podinfo import PodInfo  # noqa: E402
from kubeherd.scheduler.types import Resource  # noqa: E402

Obj = dict[str, Any]
APPS = 50  # deployments in the deployment scenarios


def make_nodes(n: int) -> list[Obj]:
    resources = {"cpu": "32", "memory": "256Gi", "pods": "110", "ephemeral-storage": "100Gi"}
    return [{"apiVersion": "v1", "kind": "Node",
             "metadata": {"name": f"node-{i}", "labels": {"kubernetes.io/hostname": f"node-{i}",
                                                          "topology.kubernetes.io/zone": f"zone-{i % 4}"}},
             "spec": {}, "status": {"capacity": resources, "allocatable": resources,
                                    "conditions": [{"type": "Ready", "status": "True"}]}}
            for i in range(n)]


def make_pods(n: int, scenario: str) -> tuple[list[Obj], StaticListers]:
    listers = StaticListers()
    pods = []
    for i in range(n):
        app = f"app-{i % APPS}"
        meta: Obj = {"name": f"pod-{i}", "namespace": "bench", "uid": f"uid-{i}",
                     "creationTimestamp": "2025-01-01T00:00:00Z", "labels": {}}
        spec: Obj = {"schedulerName": "default-scheduler", "priority": 0, "containers": [
            {"name": "app", "image": "registry.example/app:1.0",
             "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}]}
        if scenario != "basic":
            meta["labels"] = {"app": app, "pod-template-hash": "5d8f7c"}
            meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": f"{app}-5d8f7c",
                                        "uid": f"rs-{app}", "controller": True}]
        if scenario == "anti-affinity":
            spec["affinity"] = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"app": app}}, "topologyKey": "kubernetes.io/hostname"}]}}
        pods.append({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec,
                     "status": {"phase": "Pending"}})
    if scenario != "basic":
        for a in range(APPS):
            app = f"app-{a}"
            listers.add({"kind": "ReplicaSet", "metadata": {"name": f"{app}-5d8f7c", "namespace": "bench"},
                         "spec": {"selector": {"matchLabels": {"app": app, "pod-template-hash": "5d8f7c"}}}})
            listers.add({"kind": "Service", "metadata": {"name": app, "namespace": "bench"},
                         "spec": {"selector": {"app": app}}})
    return pods, listers


async def run_scheduler(nodes: list[Obj], pods: list[Obj], listers: StaticListers) -> tuple[float, int, Scheduler]:
    sched: Scheduler | None = None
    done = asyncio.Event()

    def bound(pod: PodInfo, node_name: str) -> None:
        assert sched is not None
        sched.on_pod_update(pod.pod, {**pod.pod, "spec": {**pod.pod["spec"], "nodeName": node_name}})
        if sched.scheduled + 1 >= len(pods):
            done.set()

    sched = Scheduler(api=NullAPI(bound), listers=listers)
    for node in nodes:
        sched.on_node_add(node)
    gc.collect()
    start = time.perf_counter()
    for pod in pods:
        sched.on_pod_add(pod)
    loop = asyncio.ensure_future(sched.run())
    await asyncio.wait_for(done.wait(), 600)
    await sched.wait_idle()
    elapsed = time.perf_counter() - start
    await sched.stop()
    loop.cancel()
    return elapsed, sched.scheduled, sched


def run_reference(nodes: list[Obj], pods: list[Obj]) -> float:
    """First fit, round robin: parse requests, take the next node with room."""
    free = [Resource.from_list(n["status"]["allocatable"]) for n in nodes]
    start = time.perf_counter()
    index = 0
    for pod in pods:
        want = Resource()
        for c in pod["spec"]["containers"]:
            want.add_list(c["resources"]["requests"])
        for step in range(len(free)):
            node = free[(index + step) % len(free)]
            if node.milli_cpu >= want.milli_cpu and node.memory >= want.memory and node.allowed_pods > 0:
                node.milli_cpu -= want.milli_cpu
                node.memory -= want.memory
                node.allowed_pods -= 1
                index = (index + step + 1) % len(free)
                break
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--pods", type=int, default=5000)
    parser.add_argument("--scenario", default="all", choices=["all", "basic", "deployment", "anti-affinity"])
    args = parser.parse_args()
    try:
        import uvloop
        runner: Any = uvloop.run
    except ImportError:
        runner = asyncio.run
    nodes = make_nodes(args.nodes)
    print(f"scheduler benchmark: {args.nodes} nodes, {args.pods} pods, python {sys.version.split()[0]}, "
          f"{os.cpu_count()} cpus")
    basic, _ = make_pods(args.pods, "basic")
    ref = run_reference(nodes, basic)
    print(f"  {'reference first-fit loop':34} {args.pods / ref:10.0f} pods/s  ({ref:.2f}s)")
    print(f"  {'(upstream CI floor, SchedulingBasic':34} {270:10d} pods/s  at 5000 nodes, with its API server)")
    scenarios = ["basic", "deployment", "anti-affinity"] if args.scenario == "all" else [args.scenario]
    for scenario in scenarios:
        pods, listers = make_pods(args.pods, scenario)
        elapsed, scheduled, sched = runner(run_scheduler(nodes, pods, listers))
        used = sorted(n.num_pods for n in sched.cache.node_infos())
        print(f"  {'kubeherd scheduler, ' + scenario:34} {scheduled / elapsed:10.0f} pods/s  ({elapsed:.2f}s, "
              f"{scheduled} scheduled, pods per node {used[0]}..{used[-1]})")


if __name__ == "__main__":
    main()
