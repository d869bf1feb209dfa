"""NodeResourcesFit: the node must have room for the pod's requests; score with LeastAllocated.

Filter: the pod's request (see `podinfo.pod_requests`) plus what the node's pods already request
must not exceed the node's allocatable, resource by resource (cpu, memory, ephemeral-storage and
extended resources the pod asks for), and one more pod must fit under the node's pod limit.
Each shortfall is one reason, `Insufficient cpu`, `Too many pods`, ... (all are reported).

Score (LeastAllocated, cpu and memory weighted 1 each): the share of allocatable left free after
placing the pod, so pods spread toward emptier nodes. Scoring counts a container without a
cpu/memory request as 100m / 200MB, so best-effort pods spread as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubeherd.scheduler.events import ActionType, ClusterEvent, EventRegistration, EventResource
from kubeherd.scheduler.framework import CycleState, FilterPlugin, ScorePlugin
from kubeherd.scheduler.nodeinfo import NodeInfo
from kubeherd.scheduler.podinfo import PodInfo
from kubeherd.scheduler.types import MAX_NODE_SCORE, Code, Resource, Status

NAME = "NodeResourcesFit"


@dataclass(frozen=True, slots=True)
class InsufficientResource:
    resource: str
    reason: str
    requested: int
    used: int
    capacity: int


def insufficient_resources(pod: PodInfo, node: NodeInfo,
                           ignored: frozenset[str] = frozenset()) -> list[InsufficientResource]:
    """Every resource the node lacks for the pod (upstream's fitsRequest)."""
    out: list[InsufficientResource] = []
    allowed = node.allocatable.allowed_pods
    if len(node.pods) + 1 > allowed:
        out.append(InsufficientResource("pods", "Too many pods", 1, len(node.pods), allowed))
    req = pod.requests
    if not (req.milli_cpu or req.memory or req.ephemeral_storage or req.scalar):
        return out
    alloc, used = node.allocatable, node.requested
    if alloc.milli_cpu < req.milli_cpu + used.milli_cpu:
        out.append(InsufficientResource("cpu", "Insufficient cpu", req.milli_cpu, used.milli_cpu, alloc.milli_cpu))
    if alloc.memory < req.memory + used.memory:
        out.append(InsufficientResource("memory", "Insufficient memory", req.memory, used.memory, alloc.memory))
    if alloc.ephemeral_storage < req.ephemeral_storage + used.ephemeral_storage:
        out.append(InsufficientResource("ephemeral-storage", "Insufficient ephemeral-storage",
                                        req.ephemeral_storage, used.ephemeral_storage, alloc.ephemeral_storage))
    for name, value in req.scalar.items():
        if name in ignored or not value:
            continue
        have = alloc.scalar.get(name, 0)
        taken = used.scalar.get(name, 0)
        if have < value + taken:
            out.append(InsufficientResource(name, f"Insufficient {name}", value, taken, have))
    return out


def fits(pod: PodInfo, node: NodeInfo) -> list[str]:
    """The reasons the pod does not fit the node's resources; empty when it fits."""
    return [r.reason for r in insufficient_resources(pod, node)]


def least_requested_score(requested: int, capacity: int) -> int:
    if capacity == 0 or requested > capacity:
        return 0
    return (capacity - requested) * MAX_NODE_SCORE // capacity


def least_allocated_score(pod: PodInfo, node: NodeInfo) -> int:
    """LeastAllocated over cpu and memory (weight 1 each), with the scoring ("non-zero") requests."""
    alloc = node.allocatable
    total = weights = 0
    if alloc.milli_cpu:
        total += least_requested_score(node.non_zero_cpu + pod.non_zero_cpu, alloc.milli_cpu)
        weights += 1
    if alloc.memory:
        total += least_requested_score(node.non_zero_memory + pod.non_zero_memory, alloc.memory)
        weights += 1
    return total // weights if weights else 0


def _allocatable(node: Any) -> Resource:
    status = (node or {}).get("status") or {}
    return Resource.from_list(status.get("allocatable") or status.get("capacity") or {})


def _fits_new_node(pod: PodInfo, old: Any, new: Any) -> bool:
    """Hint: worth retrying only if the added/changed node could hold the pod on its own, and
    (for an update) some resource the pod requests grew."""
    if new is None:
        return False
    alloc = _allocatable(new)
    req = pod.requests
    if alloc.allowed_pods < 1 or alloc.milli_cpu < req.milli_cpu or alloc.memory < req.memory or \
            alloc.ephemeral_storage < req.ephemeral_storage or \
            any(alloc.scalar.get(n, 0) < v for n, v in req.scalar.items()):
        return False
    if old is None:
        return True
    before = _allocatable(old)
    return (alloc.allowed_pods > before.allowed_pods or (req.milli_cpu and alloc.milli_cpu > before.milli_cpu)
            or (req.memory and alloc.memory > before.memory)
            or (req.ephemeral_storage and alloc.ephemeral_storage > before.ephemeral_storage)
            or any(alloc.scalar.get(n, 0) > before.scalar.get(n, 0) for n in req.scalar)) or False


class NodeResourcesFit(FilterPlugin, ScorePlugin):
    name = NAME

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        # inline fast path: most nodes have room, and this runs for every node
        alloc, used, req = node.allocatable, node.requested, pod.requests
        if len(node.pods) < alloc.allowed_pods and alloc.milli_cpu >= req.milli_cpu + used.milli_cpu and \
                alloc.memory >= req.memory + used.memory and \
                alloc.ephemeral_storage >= req.ephemeral_storage + used.ephemeral_storage and not req.scalar:
            return None
        reasons = fits(pod, node)
        return Status(Code.UNSCHEDULABLE, *reasons, plugin=NAME) if reasons else None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return least_allocated_score(pod, node)

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        cpu, mem = pod.non_zero_cpu, pod.non_zero_memory
        out = []
        for node in nodes:
            alloc = node.allocatable
            a_cpu, a_mem = alloc.milli_cpu, alloc.memory
            if a_cpu and a_mem:  # the common case of least_allocated_score, inline
                r_cpu, r_mem = node.non_zero_cpu + cpu, node.non_zero_memory + mem
                s_cpu = (a_cpu - r_cpu) * MAX_NODE_SCORE // a_cpu if r_cpu <= a_cpu else 0
                s_mem = (a_mem - r_mem) * MAX_NODE_SCORE // a_mem if r_mem <= a_mem else 0
                out.append((s_cpu + s_mem) // 2)
            else:
                out.append(least_allocated_score(pod, node))
        return out

    def events_to_register(self) -> list[EventRegistration]:
        return [
            EventRegistration(ClusterEvent(EventResource.ASSIGNED_POD,
                                           ActionType.DELETE | ActionType.UPDATE_POD_SCALE_DOWN)),
            EventRegistration(ClusterEvent(EventResource.NODE, ActionType.ADD | ActionType.UPDATE_NODE_ALLOCATABLE),
                              _fits_new_node),
            EventRegistration(ClusterEvent(EventResource.POD, ActionType.UPDATE_POD_SCALE_DOWN)),
        ]
