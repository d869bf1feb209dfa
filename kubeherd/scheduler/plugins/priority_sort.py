"""PrioritySort: the active queue pops the highest `spec.priority` first, then the longest waiting."""

from __future__ import annotations

from typing import Any

from kubeherd.scheduler.framework import QueueSortPlugin
from kubeherd.scheduler.podinfo import PodInfo

NAME = "PrioritySort"


def sort_key(pod: PodInfo, timestamp: float) -> tuple[Any, ...]:
    return (-pod.priority, timestamp)


def less(a: PodInfo, a_time: float, b: PodInfo, b_time: float) -> bool:
    return sort_key(a, a_time) < sort_key(b, b_time)


class PrioritySort(QueueSortPlugin):
    name = NAME

    def sort_key(self, pod: PodInfo, timestamp: float) -> tuple[Any, ...]:
        return sort_key(pod, timestamp)
