"""ImageLocality: prefer nodes that already have the pod's images.

Each container image present on the node counts its size, scaled by the share of nodes that have
it (an image every node has does not distinguish any). The sum is clamped between 23 MB and
1000 MB per container and mapped onto 0..100 — so tiny images do not matter, huge ones saturate.
"""

from __future__ import annotations

from collections.abc import Callable

from kubeherd.scheduler.framework import CycleState, PreScorePlugin, ScorePlugin
from kubeherd.scheduler.nodeinfo import NodeInfo
from kubeherd.scheduler.podinfo import PodInfo
from kubeherd.scheduler.types import MAX_NODE_SCORE, Code, Status

NAME = "ImageLocality"
MB = 1024 * 1024
MIN_THRESHOLD = 23 * MB
MAX_CONTAINER_THRESHOLD = 1000 * MB
_SKIP = Status(Code.SKIP)
_STATE_KEY = "PreScore" + NAME


def normalized_image_name(name: str) -> str:
    """`nginx` is `nginx:latest` (a tag or digest is left alone)."""
    if name.rfind(":") <= name.rfind("/"):
        return name + ":latest"
    return name


def calculate_priority(sum_scores: int, num_containers: int) -> int:
    max_threshold = MAX_CONTAINER_THRESHOLD * num_containers
    if sum_scores < MIN_THRESHOLD:
        sum_scores = MIN_THRESHOLD
    elif sum_scores > max_threshold:
        sum_scores = max_threshold
    return MAX_NODE_SCORE * (sum_scores - MIN_THRESHOLD) // (max_threshold - MIN_THRESHOLD)


def image_locality_score(pod: PodInfo, node: NodeInfo, image_num_nodes: Callable[[str], int],
                         total_nodes: int) -> int:
    total = 0
    for image in pod.images:
        name = normalized_image_name(image)
        size = node.images.get(name)
        if size is not None and total_nodes:
            total += int(size * image_num_nodes(name) / total_nodes)
    return calculate_priority(total, len(pod.images))


class ImageLocality(PreScorePlugin, ScorePlugin):
    name = NAME

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        snapshot = self.handle.snapshot
        if not pod.images or not any(snapshot.image_num_nodes(normalized_image_name(i)) for i in pod.images):
            return _SKIP  # no node has any of them: every node scores 0
        state.write(_STATE_KEY, snapshot.num_nodes())
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        if not node.images:
            return 0
        return image_locality_score(pod, node, self.handle.snapshot.image_num_nodes, state.read(_STATE_KEY) or 0)
