"""The kubelet's start gate (how many pod-start runtime calls run at once, the started pods
first) and which pod updates give the pod worker work."""

from __future__ import annotations

import asyncio
import copy

import pytest

from kubeherd.kubelet import startgate
from kubeherd.kubelet.kubelet import needs_sync
from kubeherd.kubelet.startgate import CONTAINER, SANDBOX, StartGate


async def peak_concurrency(gate: StartGate, calls: int = 12) -> int:
    """How many of ``calls`` simultaneous calls the gate lets run at once."""
    running = peak = 0

    async def call() -> None:
        nonlocal running, peak
        async with gate.slot(SANDBOX):
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.01)
            running -= 1

    await asyncio.wait_for(asyncio.gather(*(call() for _ in range(calls))), 5)
    return peak


def test_no_more_calls_than_the_width_run_at_once() -> None:
    assert asyncio.run(peak_concurrency(StartGate(3))) == 3


def test_container_calls_go_before_waiting_sandbox_calls_and_each_kind_in_arrival_order() -> None:
    async def scenario() -> list[str]:
        gate = StartGate(1)
        order: list[str] = []
        release = asyncio.Event()

        async def call(name: str, priority: int) -> None:
            async with gate.slot(priority):
                order.append(name)
                if name == "first":
                    await release.wait()

        first = asyncio.ensure_future(call("first", SANDBOX))
        await asyncio.sleep(0)
        waiting = [asyncio.ensure_future(call(name, priority)) for name, priority in (
            ("sandbox-a", SANDBOX), ("sandbox-b", SANDBOX), ("container-a", CONTAINER), ("container-b", CONTAINER))]
        await asyncio.sleep(0)
        release.set()
        await asyncio.gather(first, *waiting)
        return order

    assert asyncio.run(scenario()) == ["first", "container-a", "container-b", "sandbox-a", "sandbox-b"]


def test_a_call_holding_its_slot_past_the_lease_lets_the_next_one_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(startgate, "SLOT_LEASE", 0.05)

    async def scenario() -> tuple[bool, bool]:
        gate = StartGate(1)
        stuck_done = asyncio.Event()

        async def stuck() -> None:
            async with gate.slot(SANDBOX):
                await stuck_done.wait()

        async def quick() -> None:
            async with gate.slot(SANDBOX):
                pass

        holder = asyncio.ensure_future(stuck())
        await asyncio.sleep(0)
        passed = True
        try:
            await asyncio.wait_for(quick(), 1.0)
        except TimeoutError:
            passed = False
        stuck_done.set()
        await holder
        return passed, await peak_concurrency(gate)  # the slot came back once, not twice

    assert asyncio.run(scenario()) == (True, 1)


def test_a_cancelled_waiter_takes_no_slot_away() -> None:
    async def scenario() -> tuple[list[str], int]:
        gate = StartGate(2)
        order: list[str] = []
        release = asyncio.Event()

        async def call(name: str) -> None:
            async with gate.slot(SANDBOX):
                order.append(name)
                if name in ("first", "other"):
                    await release.wait()

        first = asyncio.ensure_future(call("first"))
        other = asyncio.ensure_future(call("other"))
        await asyncio.sleep(0)
        cancelled = asyncio.ensure_future(call("cancelled"))
        later = asyncio.ensure_future(call("later"))
        await asyncio.sleep(0)
        cancelled.cancel()
        release.set()
        await asyncio.wait_for(asyncio.gather(first, other, later), 5)
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        return order, await peak_concurrency(gate)

    assert asyncio.run(scenario()) == (["first", "other", "later"], 2)



def test_a_waiter_cancelled_as_the_slot_is_handed_to_it_passes_the_slot_on() -> None:
    async def scenario() -> tuple[list[str], int]:
        gate = StartGate(1)
        order: list[str] = []
        release = asyncio.Event()

        async def call(name: str) -> None:
            async with gate.slot(SANDBOX):
                order.append(name)
                if name == "first":
                    await release.wait()

        first = asyncio.ensure_future(call("first"))
        await asyncio.sleep(0)
        handed = asyncio.ensure_future(call("handed"))
        await asyncio.sleep(0)
        release.set()
        await asyncio.sleep(0)  # "first" leaves its slot to "handed", which has not run yet
        assert first.done() and not handed.done()
        handed.cancel()
        await asyncio.wait_for(call("later"), 5)
        with pytest.raises(asyncio.CancelledError):
            await handed
        return order, await peak_concurrency(gate)

    assert asyncio.run(scenario()) == (["first", "later"], 1)

POD = {"metadata": {"name": "p", "namespace": "default", "uid": "u1", "resourceVersion": "5",
                    "labels": {"app": "a"}},
       "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "busybox"}]},
       "status": {"phase": "Pending", "conditions": [{"type": "Ready", "status": "False"}]}}


def updated(**changes: object) -> dict:
    pod = copy.deepcopy(POD)
    pod["metadata"]["resourceVersion"] = "6"
    for path, value in changes.items():
        *parents, leaf = path.split("__")
        target = pod
        for key in parents:
            target = target[key]
        target[leaf] = value
    return pod


def test_a_status_written_alone_needs_no_sync() -> None:
    assert not needs_sync(POD, updated(status={"phase": "Running", "podIP": "10.42.0.5"}))
    assert not needs_sync(POD, updated())  # a new resourceVersion alone


def test_spec_labels_annotations_and_deletion_need_a_sync() -> None:
    assert needs_sync(POD, updated(spec__activeDeadlineSeconds=5))
    assert needs_sync(POD, updated(metadata__labels={"app": "b"}))
    assert needs_sync(POD, updated(metadata__annotations={"k": "v"}))
    assert needs_sync(POD, updated(metadata__deletionTimestamp="2025-01-01T00:00:00Z",
                                   metadata__deletionGracePeriodSeconds=30))


def test_a_pod_made_finished_or_a_gated_readiness_condition_needs_a_sync() -> None:
    assert needs_sync(POD, updated(status={"phase": "Failed", "reason": "Evicted"}))
    gated = copy.deepcopy(POD)
    gated["spec"]["readinessGates"] = [{"conditionType": "example.com/ready"}]
    changed = copy.deepcopy(gated)
    changed["status"]["conditions"] = [*gated["status"]["conditions"],
                                       {"type": "example.com/ready", "status": "True"}]
    assert needs_sync(gated, changed)
    assert not needs_sync(POD, updated(status={**POD["status"], "conditions": changed["status"]["conditions"]}))
