"""The scheduling queue: which pod to try next, and when to try again a pod that did not fit.

Three places hold a pending pod, as upstream's PriorityQueue:
- the active queue, a heap ordered by the profile's QueueSort (priority, then time queued);
- the back-off queue, for pods that failed recently: 1 s after the first attempt, doubling up to
  10 s, so a pod that keeps failing does not starve the others;
- the unschedulable pool, for pods no node fits. They leave it only when a cluster event arrives
  that could change that for them: the plugins that rejected a pod are remembered, and an event
  moves it only if one of those plugins registered for it and its hint agrees (a node added with
  room for *this* pod, a pod deleted from a node). Five minutes in the pool move a pod anyway,
  upstream's safety net against a missed event.

Events that happen while a pod is being scheduled are kept until it is done: if one of them
could have changed the outcome, a pod that failed goes to back-off rather than to the pool, so
a node added mid-cycle is never missed. The queue also remembers nominated pods (preemptors
waiting for their victims to leave), which filters treat as already on their node.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable, Iterable
from typing import Any

from kubeherd.scheduler.events import (
    FORCE_ACTIVATE,
    UNSCHEDULABLE_TIMEOUT,
    ClusterEvent,
    EventRegistration,
    pod_update_events,
)
from kubeherd.scheduler.podinfo import PodInfo
from kubeherd.scheduler.types import Status

DEFAULT_INITIAL_BACKOFF = 1.0
DEFAULT_MAX_BACKOFF = 10.0
DEFAULT_MAX_IN_UNSCHEDULABLE = 300.0
UNSCHEDULABLE_FLUSH_INTERVAL = 30.0

SortKey = Callable[[PodInfo, float], tuple[Any, ...]]


def priority_sort_key(pod: PodInfo, timestamp: float) -> tuple[Any, ...]:
    return (-pod.priority, timestamp)


class QueuedPodInfo:
    """A pending pod and its scheduling history."""

    __slots__ = ("attempts", "backoff_until", "event_mark", "gated", "initial_attempt", "pending_plugins", "pod",
                 "seq", "timestamp", "unschedulable_plugins")

    def __init__(self, pod: PodInfo, now: float) -> None:
        self.pod = pod
        self.timestamp = now  # when it last entered the queue (orders equal priorities)
        self.initial_attempt: float | None = None
        self.attempts = 0
        self.unschedulable_plugins: set[str] = set()
        self.pending_plugins: set[str] = set()
        self.gated: Status | None = None  # a PreEnqueue plugin holds it back
        self.backoff_until = 0.0
        self.seq = 0  # identifies its current heap entry
        self.event_mark = 0  # events after this one happened while it was in flight

    def __repr__(self) -> str:
        return f"QueuedPodInfo({self.pod.key}, attempts={self.attempts})"


class SchedulingQueue:
    def __init__(self, sort_key: SortKey = priority_sort_key,
                 registrations: dict[str, list[EventRegistration]] | None = None,
                 pre_enqueue: Callable[[PodInfo], Status | None] | None = None,
                 clock: Callable[[], float] = time.monotonic, initial_backoff: float = DEFAULT_INITIAL_BACKOFF,
                 max_backoff: float = DEFAULT_MAX_BACKOFF,
                 max_in_unschedulable: float = DEFAULT_MAX_IN_UNSCHEDULABLE) -> None:
        self.sort_key = sort_key
        self.registrations = registrations or {}
        self.pre_enqueue = pre_enqueue
        self.clock = clock
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.max_in_unschedulable = max_in_unschedulable
        self._active: list[tuple[tuple[Any, ...], int, str]] = []
        self._backoff: list[tuple[float, int, str]] = []
        self.active: dict[str, QueuedPodInfo] = {}
        self.backoff: dict[str, QueuedPodInfo] = {}
        self.unschedulable: dict[str, QueuedPodInfo] = {}
        self.in_flight: dict[str, QueuedPodInfo] = {}
        self._seq = itertools.count(1)
        # (mark, event, old, new, only-for-uid) for events that happened while pods were in flight
        self._events: list[tuple[int, ClusterEvent, Any, Any, str]] = []
        self._event_mark = 0
        self.scheduling_cycle = 0
        self.nominated: dict[str, dict[str, PodInfo]] = {}  # node -> uid -> pod
        self.nominated_node: dict[str, str] = {}  # uid -> node
        self._ready: asyncio.Event | None = None
        self._timer: asyncio.TimerHandle | None = None
        self.closed = False

    # ------------------------------------------------------------------ sizes
    def __len__(self) -> int:
        return len(self.active) + len(self.backoff) + len(self.unschedulable)

    def pending_counts(self) -> dict[str, int]:
        return {"active": len(self.active), "backoff": len(self.backoff), "unschedulable": len(self.unschedulable),
                "in_flight": len(self.in_flight)}

    def has(self, uid: str) -> bool:
        return uid in self.active or uid in self.backoff or uid in self.unschedulable or uid in self.in_flight

    def get(self, uid: str) -> QueuedPodInfo | None:
        return (self.active.get(uid) or self.backoff.get(uid) or self.unschedulable.get(uid)
                or self.in_flight.get(uid))

    # ------------------------------------------------------------------ adding
    def add(self, pod: PodInfo) -> None:
        """A new pending pod."""
        if self.has(pod.uid):
            self._replace(pod)
            return
        qpi = QueuedPodInfo(pod, self.clock())
        self._nominate_from_status(pod)
        self._enqueue(qpi)

    def _enqueue(self, qpi: QueuedPodInfo) -> None:
        """Active, unless a PreEnqueue plugin holds the pod back (then the pool, until it changes)."""
        status = self.pre_enqueue(qpi.pod) if self.pre_enqueue is not None else None
        if status is not None and not status.is_success():
            qpi.gated = status
            qpi.pending_plugins = {status.plugin} if status.plugin else set()
            self.unschedulable[qpi.pod.uid] = qpi
            return
        qpi.gated = None
        self._push_active(qpi)

    def _push_active(self, qpi: QueuedPodInfo) -> None:
        uid = qpi.pod.uid
        self.backoff.pop(uid, None)
        self.unschedulable.pop(uid, None)
        qpi.seq = next(self._seq)
        self.active[uid] = qpi
        heapq.heappush(self._active, (self.sort_key(qpi.pod, qpi.timestamp), qpi.seq, uid))
        if self._ready is not None:
            self._ready.set()

    def _push_backoff(self, qpi: QueuedPodInfo) -> None:
        uid = qpi.pod.uid
        self.unschedulable.pop(uid, None)
        self.active.pop(uid, None)
        qpi.seq = next(self._seq)
        self.backoff[uid] = qpi
        heapq.heappush(self._backoff, (qpi.backoff_until, qpi.seq, uid))
        self._arm()

    def _replace(self, pod: PodInfo) -> None:
        qpi = self.get(pod.uid)
        if qpi is not None:
            qpi.pod = pod

    # ------------------------------------------------------------------ updates and deletes
    def update(self, old: PodInfo | None, new: PodInfo) -> None:
        """A pending pod changed: keep its place, or give it another chance if the change could help."""
        uid = new.uid
        self._nominate_from_status(new)
        if uid in self.in_flight:
            self.in_flight[uid].pod = new
            if old is not None:
                for event in pod_update_events(old.pod, new.pod, assigned=False):
                    self._record(event, old, new, only_for=uid)
            return
        if uid in self.active:
            qpi = self.active[uid]
            qpi.pod = new
            if old is None or old.priority != new.priority:
                self._push_active(qpi)  # re-sort; the old heap entry is now stale
            return
        if uid in self.backoff:
            self.backoff[uid].pod = new
            return
        waiting = self.unschedulable.get(uid)
        if waiting is None:
            self.add(new)
            return
        qpi = waiting
        qpi.pod = new
        if old is None or not _spec_or_labels_changed(old.pod, new.pod):
            return  # a status write (often our own) changes nothing for scheduling
        events = pod_update_events(old.pod, new.pod, assigned=False)
        if any(self._worth_requeuing(qpi, e, old, new) for e in events):
            self._requeue(qpi)

    def delete(self, pod: PodInfo) -> None:
        uid = pod.uid
        self.delete_nominated_pod(pod)
        if self.active.pop(uid, None) is not None:
            return  # its heap entry goes stale and is skipped
        self.backoff.pop(uid, None)
        self.unschedulable.pop(uid, None)
        self.in_flight.pop(uid, None)

    # ------------------------------------------------------------------ popping
    async def pop(self) -> QueuedPodInfo | None:
        """The next pod to schedule (waiting for one); None once the queue is closed."""
        if self._ready is None:
            self._ready = asyncio.Event()
        while True:
            if self.closed:
                return None
            qpi = self.pop_nowait()
            if qpi is not None:
                return qpi
            self._ready.clear()
            await self._ready.wait()

    def pop_nowait(self) -> QueuedPodInfo | None:
        self.flush_backoff_completed()
        while self._active:
            _, seq, uid = heapq.heappop(self._active)
            qpi = self.active.get(uid)
            if qpi is None or qpi.seq != seq:
                continue  # stale entry
            del self.active[uid]
            qpi.attempts += 1
            if qpi.initial_attempt is None:
                qpi.initial_attempt = self.clock()
            qpi.event_mark = self._event_mark
            self.in_flight[uid] = qpi
            self.scheduling_cycle += 1
            return qpi
        return None

    def done(self, uid: str) -> None:
        """The pod's scheduling attempt is over (bound, requeued or gone)."""
        self.in_flight.pop(uid, None)
        if not self.in_flight:
            self._events.clear()
        elif self._events:
            oldest = min(q.event_mark for q in self.in_flight.values())
            if self._events[0][0] <= oldest:
                self._events = [e for e in self._events if e[0] > oldest]

    def close(self) -> None:
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
        if self._ready is not None:
            self._ready.set()

    # ------------------------------------------------------------------ failures
    def backoff_duration(self, qpi: QueuedPodInfo) -> float:
        duration = self.initial_backoff
        for _ in range(1, qpi.attempts):
            if duration > self.max_backoff - duration:
                return self.max_backoff
            duration += duration
        return duration

    def add_unschedulable_if_not_present(self, qpi: QueuedPodInfo, rejected: bool = True) -> None:
        """A pod failed: to back-off if it errored or an in-flight event could help, else to the pool."""
        uid = qpi.pod.uid
        try:
            if uid in self.active or uid in self.backoff or uid in self.unschedulable:
                return
            now = self.clock()
            qpi.timestamp = now
            qpi.backoff_until = now + self.backoff_duration(qpi)
            if not rejected:
                self._push_backoff(qpi)
                return
            for mark, event, old, new, target in self._events:
                if mark > qpi.event_mark and (not target or target == uid) and \
                        self._worth_requeuing(qpi, event, old, new):
                    self._push_backoff(qpi)
                    return
            self.unschedulable[uid] = qpi
        finally:
            self.done(uid)

    # ------------------------------------------------------------------ cluster events
    def move_all_to_active_or_backoff(self, event: ClusterEvent, old: Any = None, new: Any = None,
                                      pre_check: Callable[[PodInfo], bool] | None = None) -> int:
        """An event happened: move every waiting pod it could help. Returns how many moved."""
        if self.in_flight:
            self._record(event, old, new)
        moved = 0
        for qpi in list(self.unschedulable.values()):
            if pre_check is not None and not pre_check(qpi.pod):
                continue
            if self._worth_requeuing(qpi, event, old, new):
                self._requeue(qpi)
                moved += 1
        return moved

    def _record(self, event: ClusterEvent, old: Any, new: Any, only_for: str = "") -> None:
        self._event_mark += 1
        self._events.append((self._event_mark, event, old, new, only_for))

    def _worth_requeuing(self, qpi: QueuedPodInfo, event: ClusterEvent, old: Any, new: Any) -> bool:
        if event is UNSCHEDULABLE_TIMEOUT or event is FORCE_ACTIVATE:
            return True
        plugins = qpi.unschedulable_plugins | qpi.pending_plugins
        if not plugins:
            return True  # failed for no plugin's reason (an error): any change may help
        for plugin in plugins:
            for reg in self.registrations.get(plugin, ()):
                if not reg.event.matches(event):
                    continue
                if reg.hint is None:
                    return True
                try:
                    if reg.hint(qpi.pod, old, new):
                        return True
                except Exception:
                    return True  # a failing hint must not strand a pod
        return False

    def _requeue(self, qpi: QueuedPodInfo) -> None:
        self.unschedulable.pop(qpi.pod.uid, None)
        if qpi.gated is not None:
            self._enqueue(qpi)
        elif qpi.backoff_until > self.clock():
            self._push_backoff(qpi)
        else:
            self._push_active(qpi)

    def activate(self, pods: Iterable[PodInfo]) -> None:
        """Move these pods to the active queue now, wherever they wait."""
        for pod in pods:
            qpi = self.unschedulable.get(pod.uid) or self.backoff.get(pod.uid)
            if qpi is not None:
                if qpi.gated is not None:
                    self._enqueue(qpi)
                else:
                    self._push_active(qpi)

    # ------------------------------------------------------------------ timers
    def flush_backoff_completed(self) -> None:
        now = self.clock()
        while self._backoff and self._backoff[0][0] <= now:
            _, seq, uid = heapq.heappop(self._backoff)
            qpi = self.backoff.get(uid)
            if qpi is None or qpi.seq != seq:
                continue
            del self.backoff[uid]
            self._push_active(qpi)

    def flush_unschedulable_leftover(self) -> None:
        now = self.clock()
        stale = [q for q in self.unschedulable.values()
                 if q.gated is None and now - q.timestamp > self.max_in_unschedulable]
        for qpi in stale:
            self._requeue(qpi)

    def _arm(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # driven synchronously (tests): pop_nowait flushes
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._backoff and self._backoff[0][2] not in self.backoff:
            heapq.heappop(self._backoff)
        if self._backoff:
            delay = max(0.0, self._backoff[0][0] - self.clock())
            self._timer = loop.call_later(delay, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self.flush_backoff_completed()
        self._arm()

    async def run_flushes(self) -> None:
        """Upstream's periodic flush of pods stuck in the unschedulable pool."""
        while not self.closed:
            await asyncio.sleep(UNSCHEDULABLE_FLUSH_INTERVAL)
            self.flush_unschedulable_leftover()

    # ------------------------------------------------------------------ nominated pods
    def _nominate_from_status(self, pod: PodInfo) -> None:
        if pod.nominated_node_name and not pod.node_name:
            self.add_nominated_pod(pod, pod.nominated_node_name)
        elif pod.uid in self.nominated_node:
            self.add_nominated_pod(pod, self.nominated_node[pod.uid])  # keep the in-memory nomination

    def add_nominated_pod(self, pod: PodInfo, node_name: str) -> None:
        self.delete_nominated_pod(pod)
        if not node_name:
            return
        self.nominated.setdefault(node_name, {})[pod.uid] = pod
        self.nominated_node[pod.uid] = node_name

    def delete_nominated_pod(self, pod: PodInfo) -> None:
        node = self.nominated_node.pop(pod.uid, None)
        if node is None:
            return
        pods = self.nominated.get(node)
        if pods is not None:
            pods.pop(pod.uid, None)
            if not pods:
                del self.nominated[node]

    def nominated_pods_for_node(self, node_name: str) -> list[PodInfo]:
        pods = self.nominated.get(node_name)
        return list(pods.values()) if pods else []


def _spec_or_labels_changed(old: Any, new: Any) -> bool:
    """Upstream's isPodUpdated: anything but status and bookkeeping metadata."""
    def strip(pod: Any) -> Any:
        meta = {k: v for k, v in (pod.get("metadata") or {}).items()
                if k not in ("resourceVersion", "generation", "managedFields")}
        return meta, pod.get("spec")

    return strip(old) != strip(new)
