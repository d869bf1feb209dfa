"""The scheduling framework: extension points, the plugins that fill them, and the runtime.

A profile is an ordered list of plugins with score weights. A plugin implements the extension
points it cares about by subclassing their small base classes below (NodeResourcesFit is a
PreFilter, Filter, PreScore and Score plugin); the `Framework` sorts a profile's plugins into
those points and runs them in profile order:

    PreEnqueue → (queue) → PreFilter → Filter (per node) → PostFilter (only if no node fits)
    → PreScore → Score → NormalizeScore → Reserve → Permit → PreBind → Bind

The scheduling cycle (up to Permit) is synchronous: in one process with one event loop, the
cache cannot change under it, so it needs no snapshot copy. PreBind and Bind talk to the API and
are awaited in the binding cycle, which runs concurrently with the next pods' scheduling.

A status of `None` is success; `Code.SKIP` from PreFilter or PreScore turns off that plugin's
Filter or Score for the rest of the cycle (how a plugin with nothing to check stays free).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from kubeherd.scheduler.events import EventRegistration
from kubeherd.scheduler.listers import Listers
from kubeherd.scheduler.nodeinfo import LabelIndex, NodeInfo, TermIndex
from kubeherd.scheduler.podinfo import PodInfo
from kubeherd.scheduler.types import MAX_NODE_SCORE, Code, Obj, Status

if TYPE_CHECKING:
    from kubeherd.scheduler.api import SchedulerAPI


# ------------------------------------------------------------------------------ cycle state
class CycleState:
    """Per-pod, per-cycle scratch space plugins share between their extension points."""

    __slots__ = ("data", "filters", "skip_filter", "skip_score")

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.skip_filter: set[str] = set()
        self.skip_score: set[str] = set()
        self.filters: list[tuple[str, Callable[[CycleState, PodInfo, NodeInfo], Status | None]]] = []

    def read(self, key: str) -> Any:
        return self.data.get(key)

    def write(self, key: str, value: Any) -> None:
        self.data[key] = value

    def clone(self) -> CycleState:
        """A copy whose plugin states can be changed (for preemption's what-if runs)."""
        other = CycleState()
        other.data = {k: (v.clone() if hasattr(v, "clone") else v) for k, v in self.data.items()}
        other.skip_filter = set(self.skip_filter)
        other.skip_score = set(self.skip_score)
        other.filters = self.filters
        return other


# ------------------------------------------------------------------------------ what plugins see
class Snapshot(Protocol):
    """The cluster as of this cycle: every node with the pods on it (the scheduler cache)."""

    label_index: LabelIndex
    anti_affinity_index: TermIndex

    def node_infos(self) -> list[NodeInfo]: ...
    def get(self, name: str) -> NodeInfo | None: ...
    def nodes_with_affinity_pods(self) -> list[NodeInfo]: ...
    def nodes_with_required_anti_affinity_pods(self) -> list[NodeInfo]: ...
    def image_num_nodes(self, image: str) -> int: ...
    def num_nodes(self) -> int: ...


class Nominator(Protocol):
    """Pods that preempted others and wait for the room they made (the scheduling queue)."""

    def nominated_pods_for_node(self, node_name: str) -> list[PodInfo]: ...
    def delete_nominated_pod(self, pod: PodInfo) -> None: ...


@dataclass
class Handle:
    """What a plugin is given when it is built: views of the cluster and ways to act on it."""

    snapshot: Snapshot
    listers: Listers
    nominator: Nominator
    api: SchedulerAPI | None = None
    scheduler_name: str = "default-scheduler"
    framework: Framework | None = None
    # Start API work that must not hold up the scheduling cycle (preemption's deletions).
    spawn: Callable[[Coroutine[Any, Any, Any]], Any] | None = None
    # Move pods out of the unschedulable pool now (by key), e.g. when preemption fails.
    activate: Callable[[list[PodInfo]], None] | None = None

    def namespace_labels(self, namespace: str) -> Any:
        return self.listers.namespace_labels(namespace)


# ------------------------------------------------------------------------------ plugin kinds
class Plugin:
    name: ClassVar[str] = ""

    def __init__(self, handle: Handle, args: dict[str, Any] | None = None) -> None:
        self.handle = handle
        self.args = args or {}

    def events_to_register(self) -> list[EventRegistration]:
        """Cluster events that could make a pod this plugin rejected schedulable."""
        return []


class PreEnqueuePlugin(Plugin):
    def pre_enqueue(self, pod: PodInfo) -> Status | None:
        raise NotImplementedError


class QueueSortPlugin(Plugin):
    def sort_key(self, pod: PodInfo, timestamp: float) -> tuple[Any, ...]:
        """The active queue pops the smallest key first."""
        raise NotImplementedError


class PreFilterPlugin(Plugin):
    # PreFilterExtensions: plugins whose pre-computed state counts other pods say so, and keep
    # that state right when preemption or nominated pods add and remove pods hypothetically.
    has_extensions: ClassVar[bool] = False

    def pre_filter(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        raise NotImplementedError

    def add_pod(self, state: CycleState, pod: PodInfo, added: PodInfo, node: NodeInfo) -> None:
        return None

    def remove_pod(self, state: CycleState, pod: PodInfo, removed: PodInfo, node: NodeInfo) -> None:
        return None


class FilterPlugin(Plugin):
    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        raise NotImplementedError


@dataclass
class Diagnosis:
    """Why no node fit: each node's failing status, the rejecting plugins, and messages."""

    node_to_status: dict[str, Status] = field(default_factory=dict)
    absent_status: Status | None = None  # for nodes not in node_to_status (PreFilter rejections)
    unschedulable_plugins: set[str] = field(default_factory=set)
    pending_plugins: set[str] = field(default_factory=set)
    pre_filter_msg: str = ""
    post_filter_msg: str = ""

    def add_plugin_status(self, status: Status) -> None:
        if not status.plugin:
            return
        if status.is_rejected():
            self.unschedulable_plugins.add(status.plugin)
        if status.code == Code.PENDING:
            self.pending_plugins.add(status.plugin)

    def status_of(self, node_name: str) -> Status | None:
        return self.node_to_status.get(node_name, self.absent_status)


class FitError(Exception):
    """No node fits; the message is upstream's "0/N nodes are available: ..." line."""

    def __init__(self, pod: PodInfo, num_all_nodes: int, diagnosis: Diagnosis) -> None:
        super().__init__()
        self.pod = pod
        self.num_all_nodes = num_all_nodes
        self.diagnosis = diagnosis

    def __str__(self) -> str:
        return fit_error_message(self.num_all_nodes, self.diagnosis)


def fit_error_message(num_all_nodes: int, diagnosis: Diagnosis) -> str:
    msg = f"0/{num_all_nodes} nodes are available:"
    if diagnosis.pre_filter_msg:
        msg += f" {diagnosis.pre_filter_msg}."
    else:
        counts: dict[str, int] = {}
        for status in diagnosis.node_to_status.values():
            for reason in status.reasons:
                counts[reason] = counts.get(reason, 0) + 1
        absent = num_all_nodes - len(diagnosis.node_to_status)
        if absent > 0 and diagnosis.absent_status is not None:
            for reason in diagnosis.absent_status.reasons:
                counts[reason] = counts.get(reason, 0) + absent
        histogram = sorted(f"{n} {reason}" for reason, n in counts.items())
        if histogram:
            msg += f" {', '.join(histogram)}."
    if diagnosis.post_filter_msg:
        msg += f" {diagnosis.post_filter_msg}"
    return msg


@dataclass
class PostFilterResult:
    nominated_node_name: str = ""
    # True: set status.nominatedNodeName to `nominated_node_name` (possibly clearing it).
    override: bool = True


class PostFilterPlugin(Plugin):
    def post_filter(self, state: CycleState, pod: PodInfo, diagnosis: Diagnosis,
                    num_all_nodes: int) -> tuple[PostFilterResult | None, Status]:
        raise NotImplementedError


class PreScorePlugin(Plugin):
    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        raise NotImplementedError


class ScorePlugin(Plugin):
    # Whether normalize_score must run after every node is scored.
    normalizes: ClassVar[bool] = False

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        raise NotImplementedError

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        """Every node's score; plugins may override it with a tighter loop (same results)."""
        score = self.score
        return [score(state, pod, n) for n in nodes]

    def normalize_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], scores: list[int]) -> None:
        return None


def default_normalize_score(scores: list[int], reverse: bool = False, max_priority: int = MAX_NODE_SCORE) -> None:
    """Scale scores so the best is `max_priority` (upstream helper.DefaultNormalizeScore)."""
    top = max(scores, default=0)
    if top == 0:
        if reverse:
            for i in range(len(scores)):
                scores[i] = max_priority
        return
    for i, s in enumerate(scores):
        s = max_priority * s // top
        scores[i] = max_priority - s if reverse else s


class ReservePlugin(Plugin):
    def reserve(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        raise NotImplementedError

    def unreserve(self, state: CycleState, pod: PodInfo, node_name: str) -> None:
        return None


class PermitPlugin(Plugin):
    def permit(self, state: CycleState, pod: PodInfo, node_name: str) -> tuple[Status | None, float]:
        """Success, a rejection, or Code.WAIT with a timeout in seconds."""
        raise NotImplementedError


class PreBindPlugin(Plugin):
    async def pre_bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        raise NotImplementedError


class BindPlugin(Plugin):
    async def bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        """Bind, or answer Code.SKIP to let the next bind plugin do it."""
        raise NotImplementedError


# ------------------------------------------------------------------------------ profiles
@dataclass(frozen=True)
class PluginConfig:
    name: str
    weight: int = 0
    args: dict[str, Any] | None = None


@dataclass
class Profile:
    scheduler_name: str
    plugins: Sequence[PluginConfig]
    # None: adaptive (50% minus 1% per 125 nodes, at least 5%), as upstream's default of 0.
    percentage_of_nodes_to_score: int | None = None


PluginFactory = Callable[[Handle, dict[str, Any] | None], Plugin]


class WaitingPod:
    """A pod held at Permit until every waiting plugin allows it, one rejects it, or time runs out."""

    def __init__(self, pod: PodInfo, pending: dict[str, float]) -> None:
        self.pod = pod
        self.pending = set(pending)
        self.future: asyncio.Future[Status | None] = asyncio.get_running_loop().create_future()
        self.timers = [asyncio.get_running_loop().call_later(timeout, self.reject, plugin,
                                                             f"rejected due to timeout after waiting {timeout}s at "
                                                             f"plugin {plugin}")
                       for plugin, timeout in pending.items()]

    def allow(self, plugin: str) -> None:
        self.pending.discard(plugin)
        if not self.pending and not self.future.done():
            self._finish(None)

    def reject(self, plugin: str, message: str) -> None:
        if not self.future.done():
            self._finish(Status(Code.UNSCHEDULABLE, message, plugin=plugin))

    def _finish(self, status: Status | None) -> None:
        for timer in self.timers:
            timer.cancel()
        self.future.set_result(status)


# ------------------------------------------------------------------------------ the runtime
class Framework:
    """One profile's plugins, sorted into extension points, and the code that runs them."""

    def __init__(self, profile: Profile, registry: dict[str, PluginFactory], handle: Handle) -> None:
        self.profile = profile
        self.handle = handle
        handle.framework = self
        handle.scheduler_name = profile.scheduler_name
        self.plugins: list[Plugin] = []
        self.weights: dict[str, int] = {}
        for cfg in profile.plugins:
            factory = registry.get(cfg.name)
            if factory is None:
                raise ValueError(f"plugin {cfg.name!r} is not registered")
            plugin = factory(handle, cfg.args)
            self.plugins.append(plugin)
            self.weights[plugin.name] = cfg.weight or 1
        ps = self.plugins
        self.pre_enqueue_plugins = [p for p in ps if isinstance(p, PreEnqueuePlugin)]
        sort = [p for p in ps if isinstance(p, QueueSortPlugin)]
        self.queue_sort: QueueSortPlugin | None = sort[0] if sort else None
        self.pre_filter_plugins = [p for p in ps if isinstance(p, PreFilterPlugin)]
        self.pre_filter_extensions = [p for p in self.pre_filter_plugins if p.has_extensions]
        self.filter_plugins = [p for p in ps if isinstance(p, FilterPlugin)]
        self.post_filter_plugins = [p for p in ps if isinstance(p, PostFilterPlugin)]
        self.pre_score_plugins = [p for p in ps if isinstance(p, PreScorePlugin)]
        self.score_plugins = [p for p in ps if isinstance(p, ScorePlugin)]
        self.reserve_plugins = [p for p in ps if isinstance(p, ReservePlugin)]
        self.permit_plugins = [p for p in ps if isinstance(p, PermitPlugin)]
        self.pre_bind_plugins = [p for p in ps if isinstance(p, PreBindPlugin)]
        self.bind_plugins = [p for p in ps if isinstance(p, BindPlugin)]
        self.waiting_pods: dict[str, WaitingPod] = {}

    @property
    def scheduler_name(self) -> str:
        return self.profile.scheduler_name

    def events_to_register(self) -> dict[str, list[EventRegistration]]:
        return {p.name: p.events_to_register() for p in self.plugins}

    # -------------------------------------------------------------- queueing
    def pre_enqueue(self, pod: PodInfo) -> Status | None:
        for p in self.pre_enqueue_plugins:
            status = p.pre_enqueue(pod)
            if status is not None and status.code != Code.SUCCESS:
                return status.with_plugin(p.name)
        return None

    # -------------------------------------------------------------- filtering
    def run_pre_filter(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> tuple[Status | None, set[str]]:
        """Run PreFilter; returns the first rejection (if any) and every plugin that rejected."""
        rejected: set[str] = set()
        for p in self.pre_filter_plugins:
            status = p.pre_filter(state, pod, nodes)
            if status is None or status.code == Code.SUCCESS:
                continue
            if status.code == Code.SKIP:
                state.skip_filter.add(p.name)
                continue
            status.with_plugin(p.name)
            if status.is_rejected():
                rejected.add(p.name)
            return status, rejected
        state.filters = [(p.name, p.filter) for p in self.filter_plugins if p.name not in state.skip_filter]
        return None, rejected

    def run_filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        for name, check in state.filters:
            status = check(state, pod, node)
            if status is not None and status.code != Code.SUCCESS:
                if not status.plugin:
                    status.plugin = name
                return status
        return None

    def run_pre_filter_add_pod(self, state: CycleState, pod: PodInfo, added: PodInfo, node: NodeInfo) -> None:
        for p in self.pre_filter_extensions:
            if p.name not in state.skip_filter:
                p.add_pod(state, pod, added, node)

    def run_pre_filter_remove_pod(self, state: CycleState, pod: PodInfo, removed: PodInfo, node: NodeInfo) -> None:
        for p in self.pre_filter_extensions:
            if p.name not in state.skip_filter:
                p.remove_pod(state, pod, removed, node)

    def run_filter_with_nominated_pods(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        """Filter as if pods nominated to this node with at least this pod's priority were there.

        Both with them (they may take the room) and without them (they may block affinity the
        pod needs, and their arrival is not certain) the pod must fit, as upstream.
        """
        nominated = [p for p in self.handle.nominator.nominated_pods_for_node(node.name)
                     if p.priority >= pod.priority and p.uid != pod.uid]
        if not nominated:
            return self.run_filter(state, pod, node)
        state_with = state.clone()
        node_with = node.clone()
        for p in nominated:
            node_with.add_pod(p)
            self.run_pre_filter_add_pod(state_with, pod, p, node_with)
        status = self.run_filter(state_with, pod, node_with)
        if status is not None:
            return status
        return self.run_filter(state, pod, node)

    def run_post_filter(self, state: CycleState, pod: PodInfo, diagnosis: Diagnosis,
                        num_all_nodes: int) -> tuple[PostFilterResult | None, Status | None]:
        result: PostFilterResult | None = None
        last: Status | None = None
        for p in self.post_filter_plugins:
            r, status = p.post_filter(state, pod, diagnosis, num_all_nodes)
            if status.code == Code.SUCCESS:
                return r, status
            if status.code != Code.UNSCHEDULABLE and status.code != Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
                return r, status.with_plugin(p.name)
            result = r if r is not None else result
            last = status.with_plugin(p.name)
        return result, last

    # -------------------------------------------------------------- scoring
    def run_pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        for p in self.pre_score_plugins:
            status = p.pre_score(state, pod, nodes)
            if status is None or status.code == Code.SUCCESS:
                continue
            if status.code == Code.SKIP:
                state.skip_score.add(p.name)
                continue
            return status.with_plugin(p.name)
        return None

    def run_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        """Every node's weighted total over the score plugins (each normalized to 0..100)."""
        totals = [0] * len(nodes)
        for p in self.score_plugins:
            if p.name in state.skip_score:
                continue
            scores = p.score_nodes(state, pod, nodes)
            if p.normalizes:
                p.normalize_score(state, pod, nodes, scores)
            weight = self.weights[p.name]
            if weight == 1:
                totals = [t + s for t, s in zip(totals, scores, strict=True)]
            else:
                totals = [t + s * weight for t, s in zip(totals, scores, strict=True)]
        return totals

    @property
    def has_score_plugins(self) -> bool:
        return bool(self.score_plugins)

    # -------------------------------------------------------------- reserve, permit
    def run_reserve(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        for p in self.reserve_plugins:
            status = p.reserve(state, pod, node_name)
            if status is not None and status.code != Code.SUCCESS:
                return status.with_plugin(p.name)
        return None

    def run_unreserve(self, state: CycleState, pod: PodInfo, node_name: str) -> None:
        for p in reversed(self.reserve_plugins):
            p.unreserve(state, pod, node_name)

    def run_permit(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        waiting: dict[str, float] = {}
        for p in self.permit_plugins:
            status, timeout = p.permit(state, pod, node_name)
            if status is None or status.code == Code.SUCCESS:
                continue
            if status.code == Code.WAIT:
                waiting[p.name] = min(timeout, 15 * 60.0)
                continue
            return status.with_plugin(p.name)
        if waiting:
            self.waiting_pods[pod.uid] = WaitingPod(pod, waiting)
            return Status(Code.WAIT)
        return None

    async def wait_on_permit(self, pod: PodInfo) -> Status | None:
        waiting = self.waiting_pods.get(pod.uid)
        if waiting is None:
            return None
        try:
            return await waiting.future
        finally:
            self.waiting_pods.pop(pod.uid, None)

    def get_waiting_pod(self, uid: str) -> WaitingPod | None:
        return self.waiting_pods.get(uid)

    # -------------------------------------------------------------- binding
    async def run_pre_bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        for p in self.pre_bind_plugins:
            status = await p.pre_bind(state, pod, node_name)
            if status is not None and status.code != Code.SUCCESS:
                return status.with_plugin(p.name)
        return None

    async def run_bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        for p in self.bind_plugins:
            status = await p.bind(state, pod, node_name)
            if status is not None and status.code == Code.SKIP:
                continue
            return None if status is None or status.code == Code.SUCCESS else status.with_plugin(p.name)
        return Status(Code.ERROR, "no bind plugin bound the pod")


def close_waiting(framework: Framework) -> None:
    for waiting in list(framework.waiting_pods.values()):
        with contextlib.suppress(Exception):
            waiting.reject("", "scheduler stopping")


__all__ = [
    "BindPlugin", "CycleState", "Diagnosis", "FilterPlugin", "FitError", "Framework", "Handle", "Obj",
    "PermitPlugin", "Plugin", "PluginConfig", "PostFilterPlugin", "PostFilterResult", "PreBindPlugin",
    "PreEnqueuePlugin", "PreFilterPlugin", "PreScorePlugin", "Profile", "QueueSortPlugin", "ReservePlugin",
    "ScorePlugin", "Snapshot", "default_normalize_score", "fit_error_message",
]
