"""A node as the scheduler sees it: its allocatable resources and everything its pods take.

A `NodeInfo` aggregates, incrementally as pods come and go, what every filter and score asks:
requested resources (exact and "non-zero" for scoring), the pod count, host ports in use, the
pods with (anti-)affinity terms, image sizes, and the node's pods grouped by (namespace, labels).
The grouping is what keeps topology spreading and inter-pod affinity affordable: the replicas of
one workload share their labels, so "how many pods here match this selector" is answered by
testing each distinct label set once, not every pod.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kubeherd.scheduler.podinfo import AffinityTerm, PodInfo
from kubeherd.scheduler.types import HostPortInfo, Obj, Resource, Taint


class LabelGroup:
    """The pods of one namespace that carry one exact label set on one node."""

    __slots__ = ("labels", "live", "total")

    def __init__(self, labels: dict[str, str]) -> None:
        self.labels = labels
        self.total = 0  # every pod, terminating ones included (affinity counts them)
        self.live = 0  # pods not being deleted (topology spreading skips terminating pods)


LabelsKey = tuple[tuple[str, str], ...]
# Cluster-wide: namespace -> label set -> node name -> that node's group. The scheduler cache keeps
# it, so "which pods match this selector, and where" costs one test per distinct label set.
LabelIndex = dict[str, dict[LabelsKey, dict[str, LabelGroup]]]


def index_of(nodes: Iterable[NodeInfo]) -> LabelIndex:
    """The label index of a set of nodes (what the cache maintains incrementally)."""
    index: LabelIndex = {}
    for node in nodes:
        for (ns, labels_key), group in node.label_groups.items():
            index.setdefault(ns, {}).setdefault(labels_key, {})[node.name] = group
    return index


def group_labels(by_node: dict[str, LabelGroup]) -> dict[str, str]:
    return next(iter(by_node.values())).labels


# Cluster-wide: every required anti-affinity term of placed pods -> node name -> how many pods carry
# it there. Replicas share their parsed terms, so a thousand replicas make one entry to test.
TermIndex = dict[int, tuple[AffinityTerm, dict[str, int]]]


def add_anti_affinity_terms(index: TermIndex, pod: PodInfo, node_name: str, delta: int) -> None:
    for term in pod.required_anti_affinity_terms:
        entry = index.get(id(term))
        if entry is None:
            if delta < 0:
                continue
            entry = index[id(term)] = (term, {})
        by_node = entry[1]
        left = by_node.get(node_name, 0) + delta
        if left > 0:
            by_node[node_name] = left
        else:
            by_node.pop(node_name, None)
            if not by_node:
                del index[id(term)]


def anti_affinity_index_of(nodes: Iterable[NodeInfo]) -> TermIndex:
    index: TermIndex = {}
    for node in nodes:
        for pod in node.pods_with_required_anti_affinity.values():
            add_anti_affinity_terms(index, pod, node.name, 1)
    return index


class NodeInfo:
    __slots__ = (
        "allocatable", "images", "label_groups", "labels", "name", "node", "non_zero_cpu", "non_zero_memory", "pods",
        "pods_with_affinity", "pods_with_required_anti_affinity", "requested", "taints", "unschedulable", "used_ports",
    )

    def __init__(self, node: Obj | None = None, name: str = "") -> None:
        self.name = name
        self.node: Obj | None = None
        self.labels: dict[str, str] = {}
        self.taints: tuple[Taint, ...] = ()
        self.unschedulable = False
        self.allocatable = Resource()
        self.images: dict[str, int] = {}
        self.requested = Resource()
        self.non_zero_cpu = 0
        self.non_zero_memory = 0
        self.pods: dict[str, PodInfo] = {}
        self.pods_with_affinity: dict[str, PodInfo] = {}
        self.pods_with_required_anti_affinity: dict[str, PodInfo] = {}
        self.used_ports = HostPortInfo()
        self.label_groups: dict[tuple[str, LabelsKey], LabelGroup] = {}
        if node is not None:
            self.set_node(node)

    @classmethod
    def from_node(cls, node: Obj, pods: list[PodInfo] | None = None) -> NodeInfo:
        info = cls(node)
        for pod in pods or []:
            info.add_pod(pod)
        return info

    def set_node(self, node: Obj) -> None:
        meta = node.get("metadata") or {}
        spec = node.get("spec") or {}
        status = node.get("status") or {}
        self.node = node
        self.name = meta.get("name", self.name)
        self.labels = meta.get("labels") or {}
        self.taints = tuple(Taint.parse(t) for t in spec.get("taints") or [] if isinstance(t, dict))
        self.unschedulable = bool(spec.get("unschedulable"))
        # Allocatable is what kubelets report; a hand-made node that only states its capacity
        # is taken at its word rather than treated as having room for nothing.
        allocatable: dict[str, Any] = status.get("allocatable") or status.get("capacity") or {}
        self.allocatable = Resource.from_list(allocatable)
        images: dict[str, int] = {}
        for image in status.get("images") or []:
            size = int(image.get("sizeBytes") or 0)
            for name in image.get("names") or []:
                images[str(name)] = size
        self.images = images

    # ------------------------------------------------------------------ pods
    def add_pod(self, pod: PodInfo) -> None:
        if pod.uid in self.pods:
            self.remove_pod(pod.uid)
        self.pods[pod.uid] = pod
        self.requested.add(pod.requests)
        self.non_zero_cpu += pod.non_zero_cpu
        self.non_zero_memory += pod.non_zero_memory
        if pod.has_affinity:
            self.pods_with_affinity[pod.uid] = pod
        if pod.has_required_anti_affinity:
            self.pods_with_required_anti_affinity[pod.uid] = pod
        for hp in pod.host_ports:
            self.used_ports.add(hp)
        key = (pod.namespace, pod.labels_key)
        group = self.label_groups.get(key)
        if group is None:
            group = self.label_groups[key] = LabelGroup(pod.labels)
        group.total += 1
        if not pod.terminating:
            group.live += 1

    def remove_pod(self, uid: str) -> PodInfo | None:
        pod = self.pods.pop(uid, None)
        if pod is None:
            return None
        self.requested.sub(pod.requests)
        self.non_zero_cpu -= pod.non_zero_cpu
        self.non_zero_memory -= pod.non_zero_memory
        self.pods_with_affinity.pop(uid, None)
        self.pods_with_required_anti_affinity.pop(uid, None)
        for hp in pod.host_ports:
            self.used_ports.remove(hp)
        key = (pod.namespace, pod.labels_key)
        group = self.label_groups.get(key)
        if group is not None:
            group.total -= 1
            if not pod.terminating:
                group.live -= 1
            if group.total <= 0:
                del self.label_groups[key]
        return pod

    @property
    def num_pods(self) -> int:
        return len(self.pods)

    def clone(self) -> NodeInfo:
        """An independent copy for what-if evaluation (preemption, nominated pods)."""
        other = NodeInfo(name=self.name)
        other.node = self.node
        other.labels = self.labels
        other.taints = self.taints
        other.unschedulable = self.unschedulable
        other.allocatable = self.allocatable
        other.images = self.images
        other.requested = self.requested.copy()
        other.non_zero_cpu = self.non_zero_cpu
        other.non_zero_memory = self.non_zero_memory
        other.pods = dict(self.pods)
        other.pods_with_affinity = dict(self.pods_with_affinity)
        other.pods_with_required_anti_affinity = dict(self.pods_with_required_anti_affinity)
        other.used_ports = self.used_ports.copy()
        groups = {}
        for key, g in self.label_groups.items():
            copy = LabelGroup(g.labels)
            copy.total, copy.live = g.total, g.live
            groups[key] = copy
        other.label_groups = groups
        return other

    def __repr__(self) -> str:
        return f"NodeInfo({self.name}, pods={len(self.pods)}, cpu={self.requested.milli_cpu}m/" \
               f"{self.allocatable.milli_cpu}m)"
