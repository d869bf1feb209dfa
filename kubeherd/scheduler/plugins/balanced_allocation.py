"""NodeResourcesBalancedAllocation: prefer nodes where cpu and memory would be used evenly.

The score is (1 - standard deviation of the requested/allocatable fractions) × 100, counting
what the node's pods request plus this pod; with two resources the deviation is half their
difference. A pod that requests nothing gives no signal, so the plugin skips it.
"""

from __future__ import annotations

import math

from kubeherd.scheduler.framework import CycleState, PreScorePlugin, ScorePlugin
from kubeherd.scheduler.nodeinfo import NodeInfo
from kubeherd.scheduler.podinfo import PodInfo
from kubeherd.scheduler.types import MAX_NODE_SCORE, Code, Status

NAME = "NodeResourcesBalancedAllocation"
_SKIP = Status(Code.SKIP)


def balanced_resource_score(requested: list[int], allocatable: list[int]) -> int:
    fractions = []
    for req, alloc in zip(requested, allocatable, strict=True):
        if alloc == 0:
            continue
        fractions.append(min(req / alloc, 1.0))
    if len(fractions) == 2:
        std = abs(fractions[0] - fractions[1]) / 2
    elif len(fractions) > 2:
        mean = sum(fractions) / len(fractions)
        std = math.sqrt(sum((f - mean) ** 2 for f in fractions) / len(fractions))
    else:
        std = 0.0
    return int((1 - std) * MAX_NODE_SCORE)


def balanced_allocation_score(pod: PodInfo, node: NodeInfo) -> int:
    alloc, used, req = node.allocatable, node.requested, pod.requests
    if alloc.milli_cpu and alloc.memory:  # the common case, without lists
        cpu = min((used.milli_cpu + req.milli_cpu) / alloc.milli_cpu, 1.0)
        mem = min((used.memory + req.memory) / alloc.memory, 1.0)
        return int((1 - abs(cpu - mem) / 2) * MAX_NODE_SCORE)
    return balanced_resource_score([used.milli_cpu + req.milli_cpu, used.memory + req.memory],
                                   [alloc.milli_cpu, alloc.memory])


class BalancedAllocation(PreScorePlugin, ScorePlugin):
    name = NAME

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        if not pod.requests.milli_cpu and not pod.requests.memory:
            return _SKIP
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return balanced_allocation_score(pod, node)

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        cpu, mem = pod.requests.milli_cpu, pod.requests.memory
        out = []
        for node in nodes:
            alloc, used = node.allocatable, node.requested
            if alloc.milli_cpu and alloc.memory:
                f_cpu = min((used.milli_cpu + cpu) / alloc.milli_cpu, 1.0)
                f_mem = min((used.memory + mem) / alloc.memory, 1.0)
                out.append(int((1 - abs(f_cpu - f_mem) / 2) * MAX_NODE_SCORE))
            else:
                out.append(balanced_allocation_score(pod, node))
        return out
