"""The scheduling queue: ordering, back-off, and requeueing by cluster events rather than by polling."""

from __future__ import annotations

from typing import Any

from kubeherd.scheduler.events import NODE_ADD, ActionType, ClusterEvent, EventResource
from kubeherd.scheduler.framework import Handle
from kubeherd.scheduler.listers import StaticListers
from kubeherd.scheduler.plugins.node_resources_fit import NodeResourcesFit
from kubeherd.scheduler.plugins.scheduling_gates import SchedulingGates
from kubeherd.scheduler.plugins.taint_toleration import TaintToleration
from kubeherd.scheduler.podinfo import PodInfo
from kubeherd.scheduler.queue import QueuedPodInfo, SchedulingQueue
from tests.unit.test_scheduler_builders import make_node, make_pod, pod_info


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_queue(clock: Clock) -> SchedulingQueue:
    handle = Handle(snapshot=None, listers=StaticListers(), nominator=None)  # type: ignore[arg-type]
    plugins = [NodeResourcesFit(handle), TaintToleration(handle), SchedulingGates(handle)]
    gates = plugins[2]
    return SchedulingQueue(registrations={p.name: p.events_to_register() for p in plugins},
                           pre_enqueue=gates.pre_enqueue, clock=clock)  # type: ignore[attr-defined]


def fail(q: SchedulingQueue, qpi: QueuedPodInfo, *plugins: str) -> None:
    qpi.unschedulable_plugins = set(plugins)
    q.add_unschedulable_if_not_present(qpi, rejected=True)


def names(q: SchedulingQueue) -> list[str]:
    out = []
    while (qpi := q.pop_nowait()) is not None:
        out.append(qpi.pod.name)
        q.done(qpi.pod.uid)
    return out


def test_higher_priority_first_then_first_come() -> None:
    clock = Clock()
    q = make_queue(clock)
    for name, priority in (("low-1", 0), ("high", 100), ("low-2", 0), ("mid", 10)):
        q.add(pod_info(name, priority=priority))
        clock.now += 1
    assert names(q) == ["high", "mid", "low-1", "low-2"]


def test_backoff_doubles_from_one_second_to_ten() -> None:
    q = make_queue(Clock())
    qpi = QueuedPodInfo(pod_info("p"), 0)
    durations = []
    for attempts in range(1, 7):
        qpi.attempts = attempts
        durations.append(q.backoff_duration(qpi))
    assert durations == [1, 2, 4, 8, 10, 10]


def test_errors_go_to_backoff_and_come_back_when_it_expires() -> None:
    clock = Clock()
    q = make_queue(clock)
    q.add(pod_info("p"))
    qpi = q.pop_nowait()
    assert qpi is not None
    q.add_unschedulable_if_not_present(qpi, rejected=False)
    assert q.pending_counts()["backoff"] == 1 and q.pop_nowait() is None
    clock.now += 1.01
    assert names(q) == ["p"]


def test_unschedulable_pod_waits_for_an_event_that_could_help() -> None:
    clock = Clock()
    q = make_queue(clock)
    q.add(pod_info("big", cpu="8"))
    qpi = q.pop_nowait()
    assert qpi is not None
    fail(q, qpi, "NodeResourcesFit")
    clock.now += 60  # time alone does not bring it back
    assert q.pop_nowait() is None and q.pending_counts()["unschedulable"] == 1
    # a node that is too small does not help (the plugin's hint says so)
    assert q.move_all_to_active_or_backoff(NODE_ADD, None, make_node("small", cpu="4")) == 0
    # nor does a change the plugin did not register for
    assert q.move_all_to_active_or_backoff(
        ClusterEvent(EventResource.NODE, ActionType.UPDATE_NODE_LABEL), make_node("n"), make_node("n")) == 0
    assert q.move_all_to_active_or_backoff(NODE_ADD, None, make_node("large", cpu="16")) == 1
    assert names(q) == ["big"]


def test_deleting_a_scheduled_pod_requeues_pods_short_of_resources() -> None:
    q = make_queue(Clock())
    q.add(pod_info("p", cpu="2"))
    qpi = q.pop_nowait()
    assert qpi is not None
    fail(q, qpi, "NodeResourcesFit")
    deleted = pod_info("old", cpu="2", node_name="n1")
    event = ClusterEvent(EventResource.ASSIGNED_POD, ActionType.DELETE)
    assert q.move_all_to_active_or_backoff(event, deleted, None) == 1
    assert q.pending_counts()["backoff"] == 1  # it failed just now: it backs off first


def test_an_event_while_the_pod_is_being_scheduled_is_not_lost() -> None:
    q = make_queue(Clock())
    q.add(pod_info("p", cpu="2"))
    qpi = q.pop_nowait()
    assert qpi is not None
    # a big node arrives while the cycle that will fail is still running
    q.move_all_to_active_or_backoff(NODE_ADD, None, make_node("new", cpu="8"))
    fail(q, qpi, "NodeResourcesFit")
    assert q.pending_counts() == {"active": 0, "backoff": 1, "unschedulable": 0, "in_flight": 0}


def test_status_only_updates_leave_the_pod_waiting_but_new_tolerations_help() -> None:
    q = make_queue(Clock())
    pod = make_pod("p")
    q.add(PodInfo(pod))
    qpi = q.pop_nowait()
    assert qpi is not None
    fail(q, qpi, "TaintToleration")
    with_status: dict[str, Any] = {**pod, "status": {"conditions": [{"type": "PodScheduled", "status": "False"}]}}
    q.update(PodInfo(pod), PodInfo(with_status))
    assert q.pending_counts()["unschedulable"] == 1
    tolerant: dict[str, Any] = {**with_status, "spec": {**pod["spec"], "tolerations": [{"operator": "Exists"}]}}
    q.update(PodInfo(with_status), PodInfo(tolerant))
    assert q.pending_counts()["unschedulable"] == 0


def test_pods_stuck_five_minutes_are_flushed_back() -> None:
    clock = Clock()
    q = make_queue(clock)
    q.add(pod_info("p"))
    qpi = q.pop_nowait()
    assert qpi is not None
    fail(q, qpi, "NodeResourcesFit")
    clock.now += 299
    q.flush_unschedulable_leftover()
    assert q.pending_counts()["unschedulable"] == 1
    clock.now += 2
    q.flush_unschedulable_leftover()
    assert names(q) == ["p"]


def test_gated_pods_wait_until_their_gates_are_removed() -> None:
    q = make_queue(Clock())
    gated = make_pod("p", schedulingGates=[{"name": "example.com/quota"}])
    q.add(PodInfo(gated))
    assert q.pop_nowait() is None and q.pending_counts()["unschedulable"] == 1
    open_pod: dict[str, Any] = {**gated, "spec": {k: v for k, v in gated["spec"].items() if k != "schedulingGates"}}
    q.update(PodInfo(gated), PodInfo(open_pod))
    assert names(q) == ["p"]


def test_deleted_pods_leave_every_queue() -> None:
    q = make_queue(Clock())
    a, b = pod_info("a"), pod_info("b")
    q.add(a)
    q.add(b)
    q.delete(a)
    assert names(q) == ["b"]


def test_nominated_pods_are_remembered_per_node() -> None:
    q = make_queue(Clock())
    p = pod_info("preemptor", priority=100)
    q.add_nominated_pod(p, "n1")
    assert [x.name for x in q.nominated_pods_for_node("n1")] == ["preemptor"]
    q.delete_nominated_pod(p)
    assert q.nominated_pods_for_node("n1") == []
    # a pod whose status already names a node (e.g. after a scheduler restart) is nominated on arrival
    q.add(PodInfo({**make_pod("x"), "status": {"phase": "Pending", "nominatedNodeName": "n2"}}))
    assert [x.name for x in q.nominated_pods_for_node("n2")] == ["x"]
