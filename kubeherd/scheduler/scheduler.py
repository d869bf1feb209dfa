"""The scheduler: watch pods and nodes, place each pending pod on a node, and bind it.

`Scheduler` holds the cache, the queue and one framework per profile, and is fed cluster changes
through its `on_*` methods (informer handlers in the server; plain calls in tests and the
benchmark). Its loop pops one pod at a time and runs the scheduling cycle synchronously:

    PreFilter → Filter over the nodes, starting where the previous pod stopped and stopping once
    enough feasible nodes are found (percentageOfNodesToScore) → PreScore/Score → pick the best
    (ties at random) → assume the pod on that node in the cache → Reserve → Permit

then starts the binding cycle (PreBind, Bind through the API) as a task and moves on, so binding
latency never limits throughput. When no node fits, PostFilter (preemption) runs, and the pod
gets the PodScheduled=False condition (reason Unschedulable, upstream's "0/N nodes are
available: ..." message) and a FailedScheduling event; it then waits in the queue for an event
that could help. A successful bind gets a Scheduled event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Coroutine
from typing import Any

from kubeherd.scheduler.api import SchedulerAPI, truncate
from kubeherd.scheduler.cache import SchedulerCache
from kubeherd.scheduler.events import (
    ASSIGNED_POD_ADD,
    ASSIGNED_POD_DELETE,
    NODE_ADD,
    NODE_DELETE,
    ActionType,
    ClusterEvent,
    EventRegistration,
    EventResource,
    node_update_events,
    pod_update_events,
)
from kubeherd.scheduler.framework import (
    CycleState,
    Diagnosis,
    FitError,
    Framework,
    Handle,
    PluginFactory,
    PostFilterResult,
    Profile,
)
from kubeherd.scheduler.listers import Listers, PriorityResolver, StaticListers
from kubeherd.scheduler.nodeinfo import NodeInfo
from kubeherd.scheduler.plugins import REGISTRY, default_profile
from kubeherd.scheduler.podinfo import PodInfo
from kubeherd.scheduler.queue import QueuedPodInfo, SchedulingQueue, priority_sort_key
from kubeherd.scheduler.types import Code, Obj, Status

log = logging.getLogger(__name__)

MIN_FEASIBLE_NODES_TO_FIND = 100
MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5
NO_NODES_AVAILABLE = "no nodes available to schedule pods"
_CLEAR_NOMINATION = PostFilterResult("", override=True)


def num_feasible_nodes_to_find(percentage: int | None, num_all_nodes: int) -> int:
    """How many feasible nodes are enough (upstream's numFeasibleNodesToFind).

    Below 100 nodes, all of them. Otherwise the configured percentage, or adaptively 50% minus
    1% per 125 nodes (never under 5%), and never fewer than 100 nodes.
    """
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND:
        return num_all_nodes
    pct = percentage or 0
    if pct == 0:
        pct = max(50 - num_all_nodes // 125, MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND)
    return max(num_all_nodes * pct // 100, MIN_FEASIBLE_NODES_TO_FIND)


class SchedulingError(Exception):
    """A plugin failed (not a rejection): the pod is retried after back-off."""


class NoNodesAvailable(Exception):
    pass


class Scheduler:
    def __init__(self, profiles: list[Profile] | None = None, *, api: SchedulerAPI | None = None,
                 listers: Listers | None = None, registry: dict[str, PluginFactory] | None = None,
                 percentage_of_nodes_to_score: int = 0, initial_backoff: float = 1.0, max_backoff: float = 10.0,
                 rng: random.Random | None = None) -> None:
        self.api = api
        self.listers: Listers = listers if listers is not None else StaticListers()
        self.priority = PriorityResolver(self.listers)
        self.cache = SchedulerCache()
        self.queue = SchedulingQueue(initial_backoff=initial_backoff, max_backoff=max_backoff)
        self.percentage_of_nodes_to_score = percentage_of_nodes_to_score
        self.rng = rng or random.Random()
        self.next_start_node_index = 0
        self.pods: dict[str, PodInfo] = {}  # the latest version of every pod we know, by uid
        self._tasks: set[asyncio.Task[Any]] = set()
        self.frameworks: dict[str, Framework] = {}
        for profile in profiles or [default_profile()]:
            handle = Handle(snapshot=self.cache, listers=self.listers, nominator=self.queue, api=api,
                            spawn=self._spawn, activate=self.queue.activate)
            self.frameworks[profile.scheduler_name] = Framework(profile, registry or REGISTRY, handle)
        registrations: dict[str, list[EventRegistration]] = {}
        for fw in self.frameworks.values():
            for name, regs in fw.events_to_register().items():
                registrations.setdefault(name, []).extend(regs)
        self.queue.registrations = registrations
        self._interest: dict[EventResource, ActionType] = {}
        for regs in registrations.values():
            for reg in regs:
                self._interest[reg.event.resource] = self._interest.get(reg.event.resource, ActionType(0)) \
                    | reg.event.action
        first = next(iter(self.frameworks.values()))
        self.queue.sort_key = first.queue_sort.sort_key if first.queue_sort is not None else priority_sort_key
        self.queue.pre_enqueue = self._pre_enqueue
        self.scheduled = 0
        self.attempts = 0
        self.failures = 0

    # ------------------------------------------------------------------ intake
    def _pod_info(self, pod: Obj) -> PodInfo:
        return PodInfo(pod, self.priority)

    def responsible_for(self, pod: PodInfo) -> bool:
        return pod.scheduler_name in self.frameworks

    def _pre_enqueue(self, pod: PodInfo) -> Status | None:
        fw = self.frameworks.get(pod.scheduler_name)
        return fw.pre_enqueue(pod) if fw is not None else None

    def _event(self, event: ClusterEvent, old: Any = None, new: Any = None,
               pre_check: Any = None) -> None:
        wanted = self._interest.get(event.resource)
        if event.resource is not EventResource.WILDCARD and (wanted is None or not wanted & event.action):
            return
        self.queue.move_all_to_active_or_backoff(event, old, new, pre_check)

    def on_pod_add(self, pod: Obj) -> None:
        info = self._pod_info(pod)
        self.pods[info.uid] = info
        if info.node_name:
            self._assigned_pod_added(info)
        elif not info.terminal and self.responsible_for(info):
            self.queue.add(info)

    def on_pod_update(self, old: Obj, new: Obj) -> None:
        info = self._pod_info(new)
        previous = self.pods.get(info.uid)
        if previous is None:
            previous = self._pod_info(old)
        self.pods[info.uid] = info
        if info.node_name:
            if not previous.node_name:  # just bound (by us or anyone)
                self.queue.delete(info)
                self._assigned_pod_added(info)
                return
            was_counted = not previous.terminal
            self.cache.update_pod(info)
            if info.terminal and was_counted:
                self._event(ASSIGNED_POD_DELETE, previous, None)  # finished: its room is free
            else:
                for event in pod_update_events(previous.pod, info.pod, assigned=True):
                    self._event(event, previous, info)
            return
        if not self.responsible_for(info) or info.terminal:
            self.queue.delete(info)
        else:
            self.queue.update(previous, info)

    def on_pod_delete(self, pod: Obj) -> None:
        info = self.pods.pop((pod.get("metadata") or {}).get("uid") or "", None) or self._pod_info(pod)
        self.queue.delete(info)
        if info.node_name or info.uid in self.cache.pod_nodes:
            removed = self.cache.remove_pod(info)
            if removed is not None:
                self._event(ASSIGNED_POD_DELETE, removed, None)

    def _assigned_pod_added(self, info: PodInfo) -> None:
        self.queue.delete_nominated_pod(info)
        self.cache.add_pod(info)
        if not info.terminal:
            self._event(ASSIGNED_POD_ADD, None, info)

    def on_node_add(self, node: Obj) -> None:
        self.cache.add_node(node)
        self._event(NODE_ADD, None, node)

    def on_node_update(self, old: Obj, new: Obj) -> None:
        self.cache.update_node(new)
        for event in node_update_events(old, new):
            self._event(event, old, new)

    def on_node_delete(self, node: Obj) -> None:
        self.cache.remove_node(node)
        self._event(NODE_DELETE, node, None)

    def on_storage_event(self, resource: EventResource, old: Obj | None, new: Obj | None) -> None:
        """A claim, volume or storage class was added or changed."""
        action = ActionType.ADD if old is None else ActionType.UPDATE_OTHER
        self._event(ClusterEvent(resource, action), old, new)

    # ------------------------------------------------------------------ the loop
    async def run(self) -> None:
        flushes = asyncio.ensure_future(self.queue.run_flushes())
        try:
            while True:
                qpi = await self.queue.pop()
                if qpi is None:
                    return
                self.schedule_one(qpi)
                await asyncio.sleep(0)  # let informers and binding tasks make progress
        finally:
            flushes.cancel()
            with contextlib.suppress(BaseException):
                await flushes

    async def stop(self) -> None:
        self.queue.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("scheduler task failed: %s", task.exception())

    async def wait_idle(self) -> None:
        """Wait for every binding and API task started so far (tests, benchmarks)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # ------------------------------------------------------------------ one pod
    def schedule_one(self, qpi: QueuedPodInfo) -> None:
        pod = qpi.pod
        fw = self.frameworks.get(pod.scheduler_name)
        if fw is None:
            self.queue.done(pod.uid)
            return
        if pod.terminating:
            self._record(pod, "Warning", "FailedScheduling", f"skip schedule deleting pod: {pod.key}")
            self.queue.done(pod.uid)
            return
        if self.cache.is_assumed(pod) or pod.uid in self.cache.pod_nodes:
            self.queue.done(pod.uid)
            return
        self.attempts += 1
        state = CycleState()
        try:
            node_name = self.schedule_pod(fw, state, pod)
        except NoNodesAvailable:
            self.handle_failure(fw, qpi, Code.UNSCHEDULABLE_AND_UNRESOLVABLE, NO_NODES_AVAILABLE, None,
                                _CLEAR_NOMINATION)
            return
        except FitError as err:
            nominating: PostFilterResult | None = _CLEAR_NOMINATION
            if fw.post_filter_plugins:
                nominating, status = fw.run_post_filter(state, pod, err.diagnosis, err.num_all_nodes)
                err.diagnosis.post_filter_msg = status.message() if status is not None else ""
            self.handle_failure(fw, qpi, Code.UNSCHEDULABLE, str(err), err.diagnosis, nominating)
            return
        except Exception as exc:  # a plugin error: back off and retry
            log.warning("scheduling %s failed: %s", pod.key, exc)
            self.handle_failure(fw, qpi, Code.ERROR, str(exc), None, _CLEAR_NOMINATION)
            return
        assumed = self.cache.assume_pod(pod, node_name)
        self.queue.delete_nominated_pod(pod)
        status = fw.run_reserve(state, assumed, node_name)
        if status is None:
            status = fw.run_permit(state, assumed, node_name)
            if status is not None and status.code == Code.WAIT:
                status = None
            elif status is not None:
                fw.run_unreserve(state, assumed, node_name)
        else:
            fw.run_unreserve(state, assumed, node_name)
        if status is not None:
            self.cache.forget_pod(assumed)
            self._failure_from_status(fw, qpi, status, node_name)
            return
        self._spawn(self.binding_cycle(fw, state, qpi, assumed, node_name))

    def _failure_from_status(self, fw: Framework, qpi: QueuedPodInfo, status: Status, node_name: str) -> None:
        if status.is_rejected():
            diagnosis = Diagnosis(node_to_status={node_name: status})
            diagnosis.add_plugin_status(status)
            self.handle_failure(fw, qpi, Code.UNSCHEDULABLE, str(FitError(qpi.pod, 1, diagnosis)), diagnosis,
                                _CLEAR_NOMINATION)
        else:
            self.handle_failure(fw, qpi, Code.ERROR, status.message(), None, _CLEAR_NOMINATION)

    def schedule_pod(self, fw: Framework, state: CycleState, pod: PodInfo) -> str:
        nodes = self.cache.node_infos()
        if not nodes:
            raise NoNodesAvailable()
        feasible, diagnosis = self.find_nodes_that_fit(fw, state, pod, nodes)
        if not feasible:
            raise FitError(pod, len(nodes), diagnosis)
        if len(feasible) == 1:
            return feasible[0].name
        scores = self.prioritize_nodes(fw, state, pod, feasible)
        return self.select_host(feasible, scores)

    def find_nodes_that_fit(self, fw: Framework, state: CycleState, pod: PodInfo,
                            nodes: list[NodeInfo]) -> tuple[list[NodeInfo], Diagnosis]:
        diagnosis = Diagnosis()
        status, rejected = fw.run_pre_filter(state, pod, nodes)
        diagnosis.unschedulable_plugins |= rejected
        if status is not None:
            if not status.is_rejected():
                raise SchedulingError(status.message())
            diagnosis.absent_status = status
            diagnosis.pre_filter_msg = status.message()
            diagnosis.add_plugin_status(status)
            return [], diagnosis
        if pod.nominated_node_name:
            # the node this pod preempted for is likely the only one with room: try it first
            node = self.cache.get(pod.nominated_node_name)
            if node is not None and fw.run_filter_with_nominated_pods(state, pod, node) is None:
                return [node], diagnosis
        return self.find_nodes_that_pass_filters(fw, state, pod, diagnosis, nodes), diagnosis

    def find_nodes_that_pass_filters(self, fw: Framework, state: CycleState, pod: PodInfo, diagnosis: Diagnosis,
                                     nodes: list[NodeInfo]) -> list[NodeInfo]:
        n = len(nodes)
        wanted = num_feasible_nodes_to_find(fw.profile.percentage_of_nodes_to_score
                                            or self.percentage_of_nodes_to_score, n)
        if not fw.has_score_plugins:
            wanted = 1
        check = fw.run_filter_with_nominated_pods if self.queue.nominated else fw.run_filter
        feasible: list[NodeInfo] = []
        statuses = diagnosis.node_to_status
        start = self.next_start_node_index % n
        processed = 0
        order = nodes[start:] + nodes[:start] if start else nodes
        for node in order:
            processed += 1
            status = check(state, pod, node)
            if status is None:
                feasible.append(node)
                if len(feasible) >= wanted:
                    break
                continue
            if status.code == Code.ERROR:
                self.next_start_node_index = (start + processed) % n
                raise SchedulingError(status.message())
            statuses[node.name] = status
            diagnosis.add_plugin_status(status)
        self.next_start_node_index = (start + processed) % n
        return feasible

    def prioritize_nodes(self, fw: Framework, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        if not fw.has_score_plugins:
            return [1] * len(nodes)
        status = fw.run_pre_score(state, pod, nodes)
        if status is not None:
            raise SchedulingError(status.message())
        return fw.run_score(state, pod, nodes)

    def select_host(self, nodes: list[NodeInfo], scores: list[int]) -> str:
        """The highest score; among equals, one picked uniformly at random (as upstream's selectHost)."""
        best = max(scores)
        ties = [i for i, s in enumerate(scores) if s == best]
        return nodes[ties[0] if len(ties) == 1 else ties[self.rng.randrange(len(ties))]].name

    # ------------------------------------------------------------------ binding
    async def binding_cycle(self, fw: Framework, state: CycleState, qpi: QueuedPodInfo, assumed: PodInfo,
                            node_name: str) -> None:
        status = await fw.wait_on_permit(assumed)
        if status is not None:
            self._binding_failed(fw, state, qpi, assumed, node_name, status)
            return
        status = await fw.run_pre_bind(state, assumed, node_name)
        if status is None:
            status = await fw.run_bind(state, assumed, node_name)
        if status is not None:
            self._binding_failed(fw, state, qpi, assumed, node_name, status)
            return
        self.cache.finish_binding(assumed)
        self.queue.done(assumed.uid)
        self.scheduled += 1
        self._record(assumed, "Normal", "Scheduled", f"Successfully assigned {assumed.key} to {node_name}")

    def _binding_failed(self, fw: Framework, state: CycleState, qpi: QueuedPodInfo, assumed: PodInfo,
                        node_name: str, status: Status) -> None:
        fw.run_unreserve(state, assumed, node_name)
        if self.cache.is_assumed(assumed):
            self.cache.forget_pod(assumed)
            # the room it held is free again: pods waiting for it may fit now
            self._event(ASSIGNED_POD_DELETE, assumed, None, pre_check=lambda p: p.uid != assumed.uid)
        log.info("binding %s to %s failed: %s", assumed.key, node_name, status.message())
        self._failure_from_status(fw, qpi, status, node_name)

    # ------------------------------------------------------------------ failures
    def handle_failure(self, fw: Framework, qpi: QueuedPodInfo, code: Code, message: str,
                       diagnosis: Diagnosis | None, nominating: PostFilterResult | None) -> None:
        self.failures += 1
        pod = qpi.pod
        rejected = code in (Code.UNSCHEDULABLE, Code.UNSCHEDULABLE_AND_UNRESOLVABLE)
        reason = "Unschedulable" if rejected else "SchedulerError"
        if diagnosis is not None:
            qpi.unschedulable_plugins = set(diagnosis.unschedulable_plugins)
            qpi.pending_plugins = set(diagnosis.pending_plugins)
        else:
            qpi.unschedulable_plugins = set()
            qpi.pending_plugins = set()
        latest = self.pods.get(pod.uid)
        if latest is None or latest.node_name:
            self.queue.done(pod.uid)  # deleted meanwhile, or bound by someone else
        else:
            qpi.pod = latest
            self.queue.add_unschedulable_if_not_present(qpi, rejected)
        target = latest or pod
        nominated: str | None = None
        if nominating is not None and nominating.override:
            nominated = nominating.nominated_node_name
            if nominated:
                self.queue.add_nominated_pod(target, nominated)
            else:
                self.queue.delete_nominated_pod(target)
        if latest is None:
            return
        self._record(target, "Warning", "FailedScheduling", message)
        condition = {"type": "PodScheduled", "status": "False", "reason": reason, "message": message}
        if self.api is not None:
            self._spawn(self.api.update_pod_status(target, condition, nominated))

    def _record(self, pod: PodInfo, event_type: str, reason: str, message: str) -> None:
        if self.api is not None:
            self.api.record(pod.pod, event_type, reason, truncate(message))
