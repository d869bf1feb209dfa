"""The scheduler end to end without an API server: messages, assume/forget, preemption, profiles."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from kubeherd.scheduler import PluginConfig, Profile, Scheduler, num_feasible_nodes_to_find
from kubeherd.scheduler.listers import StaticListers
from kubeherd.scheduler.plugins import default_profile
from kubeherd.scheduler.podinfo import PodInfo
from tests.unit.test_scheduler_builders import container, make_node, make_pod

Obj = dict[str, Any]


class FakeAPI:
    """Records what the scheduler writes; a bind is reported back as the informer would."""

    def __init__(self) -> None:
        self.scheduler: Scheduler | None = None
        self.bound: dict[str, str] = {}
        self.conditions: dict[str, Obj] = {}
        self.nominated: dict[str, str] = {}
        self.preempted: list[str] = []
        self.events: list[tuple[str, str, str, str]] = []
        self.fail_binds = 0

    async def bind(self, pod: PodInfo, binding: Obj) -> None:
        if self.fail_binds:
            self.fail_binds -= 1
            raise RuntimeError("connection refused")
        node = binding["target"]["name"]
        self.bound[pod.name] = node
        assert self.scheduler is not None
        self.scheduler.on_pod_update(pod.pod, {**pod.pod, "spec": {**pod.pod["spec"], "nodeName": node}})

    async def update_pod_status(self, pod: PodInfo, condition: Obj | None, nominated_node: str | None = None) -> None:
        if condition is not None:
            self.conditions[pod.name] = condition
        if nominated_node is not None:
            self.nominated[pod.name] = nominated_node

    async def set_nominated_node(self, pod: PodInfo, node_name: str) -> None:
        self.nominated[pod.name] = node_name

    async def preempt(self, victim: PodInfo, preemptor: PodInfo, node_name: str, scheduler_name: str) -> None:
        self.preempted.append(victim.name)

    async def patch_object(self, resource: str, namespace: str, name: str, patch: Obj) -> None:
        return None

    def record(self, obj: Obj, event_type: str, reason: str, message: str) -> None:
        self.events.append((obj["metadata"]["name"], event_type, reason, message))


def make_scheduler(*profiles: Profile, listers: StaticListers | None = None) -> tuple[Scheduler, FakeAPI]:
    api = FakeAPI()
    # back-off shortened (1 s upstream) so that retries happen within a test's patience
    sched = Scheduler(list(profiles) or None, api=api, listers=listers, rng=random.Random(7),
                      initial_backoff=0.01, max_backoff=0.01)
    api.scheduler = sched
    return sched, api


async def drain(sched: Scheduler) -> None:
    """Schedule everything that is ready, and let bindings finish."""
    while True:
        qpi = sched.queue.pop_nowait()
        if qpi is None:
            await sched.wait_idle()
            if sched.queue.active:
                continue
            return
        sched.schedule_one(qpi)
        await asyncio.sleep(0)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_failure_message_condition_and_event_are_upstreams() -> None:
    async def go() -> None:
        sched, api = make_scheduler()
        sched.on_node_add(make_node("infra-1", cpu="8", taints=[{"key": "dedicated", "value": "infra",
                                                                 "effect": "NoSchedule"}]))
        sched.on_node_add(make_node("worker-1", cpu="2"))
        sched.on_node_add(make_node("worker-2", cpu="2"))
        sched.on_pod_add(make_pod("big", cpu="3"))
        await drain(sched)
        message = ("0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: infra}, 2 Insufficient cpu. "
                   "preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, "
                   "2 No preemption victims found for incoming pod.")
        assert api.conditions["big"] == {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                                         "message": message}
        assert ("big", "Warning", "FailedScheduling", message) in api.events
        assert sched.queue.pending_counts()["unschedulable"] == 1

    run(go())


def test_no_nodes_at_all() -> None:
    async def go() -> None:
        sched, api = make_scheduler()
        sched.on_pod_add(make_pod("p"))
        await drain(sched)
        assert api.conditions["p"]["message"] == "no nodes available to schedule pods"
        # the first node to register brings the pod back
        sched.on_node_add(make_node("n1"))
        await asyncio.sleep(0.02)
        await drain(sched)
        assert api.bound == {"p": "n1"}
        assert ("p", "Normal", "Scheduled", "Successfully assigned default/p to n1") in api.events

    run(go())


def test_assumed_pods_hold_their_room_before_binding_returns() -> None:
    async def go() -> None:
        sched, api = make_scheduler()
        sched.on_node_add(make_node("n1", cpu="2"))
        sched.on_node_add(make_node("n2", cpu="2"))
        for i in range(4):
            sched.on_pod_add(make_pod(f"p{i}", cpu="1"))
        for _ in range(4):  # four cycles, no binding has run yet
            qpi = sched.queue.pop_nowait()
            assert qpi is not None
            sched.schedule_one(qpi)
        assert api.bound == {}
        assert sorted(n.requested.milli_cpu for n in sched.cache.node_infos()) == [2000, 2000]
        await drain(sched)
        assert sorted(api.bound.values()) == ["n1", "n1", "n2", "n2"]

    run(go())


def test_failed_binding_gives_the_room_back_and_retries() -> None:
    async def go() -> None:
        sched, api = make_scheduler()
        sched.on_node_add(make_node("n1", cpu="1"))
        api.fail_binds = 1
        sched.on_pod_add(make_pod("p", cpu="1"))
        await drain(sched)
        assert api.bound == {} and sched.cache.node_infos()[0].requested.milli_cpu == 0
        assert sched.queue.pending_counts()["backoff"] == 1
        await asyncio.sleep(0.02)
        await drain(sched)
        assert api.bound == {"p": "n1"}

    run(go())


def test_pods_for_another_scheduler_are_left_alone_but_count_once_placed() -> None:
    async def go() -> None:
        sched, api = make_scheduler()
        sched.on_node_add(make_node("n1", cpu="2"))
        sched.on_pod_add(make_pod("theirs", cpu="1", schedulerName="other-scheduler"))
        await drain(sched)
        assert api.bound == {} and api.conditions == {}
        sched.on_pod_add(make_pod("placed", cpu="2", schedulerName="other-scheduler", node_name="n1"))
        sched.on_pod_add(make_pod("mine", cpu="1"))
        await drain(sched)
        assert api.conditions["mine"]["message"].startswith("0/1 nodes are available: 1 Insufficient cpu.")

    run(go())


def test_finished_pods_free_their_node() -> None:
    async def go() -> None:
        sched, api = make_scheduler()
        sched.on_node_add(make_node("n1", cpu="1"))
        job = make_pod("job", cpu="1", node_name="n1", phase="Running")
        sched.on_pod_add(job)
        sched.on_pod_add(make_pod("next", cpu="1"))
        await drain(sched)
        assert "next" not in api.bound
        sched.on_pod_update(job, {**job, "status": {"phase": "Succeeded"}})
        await asyncio.sleep(0.02)  # its failure backs off first
        await drain(sched)
        assert api.bound == {"next": "n1"}

    run(go())


@pytest.mark.parametrize(("nodes", "expected"), [(50, 50), (99, 99), (150, 100), (1000, 420), (5000, 500),
                                                  (10000, 500), (6000, 300)])
def test_percentage_of_nodes_to_score_is_adaptive(nodes: int, expected: int) -> None:
    assert num_feasible_nodes_to_find(None, nodes) == expected


def test_configured_percentage_and_round_robin_start() -> None:
    async def go() -> None:
        sched, api = make_scheduler()
        for i in range(400):
            sched.on_node_add(make_node(f"n{i:03}", cpu="64"))
        assert num_feasible_nodes_to_find(30, 400) == 120
        sched.on_pod_add(make_pod("p1", cpu="1"))
        await drain(sched)
        first = sched.next_start_node_index
        assert first == num_feasible_nodes_to_find(None, 400) == 188  # 50% - 400/125 = 47% of 400
        sched.on_pod_add(make_pod("p2", cpu="1"))
        await drain(sched)
        assert sched.next_start_node_index == (2 * first) % 400

    run(go())


def test_preemption_evicts_the_lowest_priority_pods_and_nominates_the_node() -> None:
    async def go() -> None:
        listers = StaticListers()
        sched, api = make_scheduler(listers=listers)
        sched.on_node_add(make_node("n1", cpu="4"))
        sched.on_node_add(make_node("n2", cpu="4"))
        victims = [make_pod("batch-1", cpu="2", node_name="n1", priority=10, start_time="2025-01-01T00:00:00Z"),
                   make_pod("batch-2", cpu="2", node_name="n1", priority=0, start_time="2025-01-01T00:00:00Z"),
                   make_pod("prod-1", cpu="3", node_name="n2", priority=1000)]
        for v in victims:
            sched.on_pod_add(v)
        sched.on_pod_add(make_pod("urgent", cpu="2", priority=100))
        await drain(sched)
        # n2 holds a pod of higher priority; on n1 evicting the priority-0 pod is enough
        assert api.preempted == ["batch-2"]
        assert api.nominated["urgent"] == "n1"
        assert [p.name for p in sched.queue.nominated_pods_for_node("n1")] == ["urgent"]
        # a lower-priority newcomer cannot take the room the preemptor waits for
        sched.on_pod_delete(victims[1])
        sched.on_pod_add(make_pod("sneaky", cpu="2", priority=1))
        await asyncio.sleep(0.02)
        await drain(sched)
        assert api.bound.get("urgent") == "n1"
        assert "sneaky" not in api.bound

    run(go())


def test_preemption_policy_never_and_equal_priorities() -> None:
    async def go() -> None:
        sched, api = make_scheduler()
        sched.on_node_add(make_node("n1", cpu="1"))
        sched.on_pod_add(make_pod("low", cpu="1", node_name="n1"))
        sched.on_pod_add(make_pod("polite", cpu="1", priority=100, preemptionPolicy="Never"))
        await drain(sched)
        assert api.preempted == []
        assert api.conditions["polite"]["message"].endswith(
            "preemption: not eligible due to preemptionPolicy=Never.")

    run(go())


def test_profiles_by_scheduler_name() -> None:
    async def go() -> None:
        minimal = Profile("bin-packer", [PluginConfig("PrioritySort"), PluginConfig("NodeResourcesFit"),
                                         PluginConfig("DefaultBinder")])
        sched, api = make_scheduler(default_profile(), minimal)
        sched.on_node_add(make_node("n1", taints=[{"key": "k", "effect": "NoSchedule"}]))
        sched.on_pod_add(make_pod("a", schedulerName="bin-packer"))
        sched.on_pod_add(make_pod("b"))
        await drain(sched)
        assert api.bound == {"a": "n1"}  # that profile has no TaintToleration filter
        assert "b" in api.conditions

    run(go())


def test_scores_pick_the_preferred_node() -> None:
    async def go() -> None:
        sched, api = make_scheduler()
        for i, zone in enumerate(["a", "b", "c"]):
            sched.on_node_add(make_node(f"n{i}", zone=zone))
        sched.on_pod_add(make_pod("p", affinity={"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 10, "preference": {"matchExpressions": [{"key": "topology.kubernetes.io/zone",
                                                                "operator": "In", "values": ["b"]}]}}]}},
            containers=[container(cpu="100m")]))
        await drain(sched)
        assert api.bound == {"p": "n1"}

    run(go())
