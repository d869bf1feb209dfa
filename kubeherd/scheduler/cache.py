"""The scheduler cache: every node with the pods on it, kept up to date from informers.

Pods the scheduler has just placed are "assumed" onto their node at once, before the binding
call returns, so the next pod — scheduled while that call is still in flight — already sees the
room they took. When the informer later reports the pod with its `nodeName`, the assumed copy is
replaced by the real one; if binding fails, the pod is forgotten and its room given back.

Pods that have finished (Succeeded/Failed) take no room; pods being deleted still do until they
are gone, as on a real node. A pod may be reported on a node the cache has not heard of yet; it
is kept on a placeholder so that the node, when it arrives, is complete.

The cache is also the snapshot plugins read: a scheduling cycle runs without awaiting, so nothing
changes under it. Node order interleaves zones (upstream's node tree), so that when only a part
of a large cluster is examined for a pod, every zone is represented.
"""

from __future__ import annotations

import logging

from kubeherd.scheduler.nodeinfo import LabelIndex, NodeInfo, TermIndex, add_anti_affinity_terms
from kubeherd.scheduler.podinfo import PodInfo
from kubeherd.scheduler.types import LABEL_REGION, LABEL_ZONE, Obj

log = logging.getLogger(__name__)


def zone_of(labels: dict[str, str]) -> str:
    region, zone = labels.get(LABEL_REGION, ""), labels.get(LABEL_ZONE, "")
    return f"{region}:\x00:{zone}" if region or zone else ""


class SchedulerCache:
    def __init__(self) -> None:
        self.nodes: dict[str, NodeInfo] = {}  # includes placeholders (node is None)
        self.pod_nodes: dict[str, str] = {}  # pod uid -> node name
        self.assumed: dict[str, PodInfo] = {}  # pod uid -> the assumed pod
        self.binding_finished: set[str] = set()
        self.image_nodes: dict[str, set[str]] = {}
        self._zones: dict[str, list[str]] = {}  # zone -> node names, in order of arrival
        self._order: list[NodeInfo] | None = None
        self._node_zone: dict[str, str] = {}
        self.label_index: LabelIndex = {}
        self.anti_affinity_index: TermIndex = {}

    # ------------------------------------------------------------------ nodes
    def add_node(self, node: Obj) -> NodeInfo:
        name = node["metadata"]["name"]
        info = self.nodes.get(name)
        if info is None:
            info = self.nodes[name] = NodeInfo(name=name)
        elif info.node is not None:
            self._forget_images(info)
            self._remove_from_zone(name)
        info.set_node(node)
        self._remember_images(info)
        self._add_to_zone(name, zone_of(info.labels))
        return info

    def update_node(self, node: Obj) -> NodeInfo:
        return self.add_node(node)

    def remove_node(self, node: Obj) -> None:
        name = node["metadata"]["name"]
        info = self.nodes.get(name)
        if info is None:
            return
        self._forget_images(info)
        self._remove_from_zone(name)
        if info.pods:
            info.node = None  # keep its pods until they are deleted too
        else:
            del self.nodes[name]

    def _add_to_zone(self, name: str, zone: str) -> None:
        self._zones.setdefault(zone, []).append(name)
        self._node_zone[name] = zone
        self._order = None

    def _remove_from_zone(self, name: str) -> None:
        zone = self._node_zone.pop(name, None)
        if zone is None:
            return
        names = self._zones.get(zone, [])
        if name in names:
            names.remove(name)
        if not names:
            self._zones.pop(zone, None)
        self._order = None

    def _remember_images(self, info: NodeInfo) -> None:
        for image in info.images:
            self.image_nodes.setdefault(image, set()).add(info.name)

    def _forget_images(self, info: NodeInfo) -> None:
        for image in info.images:
            nodes = self.image_nodes.get(image)
            if nodes is not None:
                nodes.discard(info.name)
                if not nodes:
                    del self.image_nodes[image]

    # ------------------------------------------------------------------ pods
    def _node_for(self, name: str) -> NodeInfo:
        info = self.nodes.get(name)
        if info is None:
            info = self.nodes[name] = NodeInfo(name=name)
        return info

    def add_pod(self, pod: PodInfo) -> None:
        """An assigned pod reported by the informer (confirms it if it was assumed)."""
        if pod.terminal:
            self.remove_pod(pod)
            return
        assumed = self.assumed.pop(pod.uid, None)
        if assumed is not None:
            self.binding_finished.discard(pod.uid)
            if assumed.node_name != pod.node_name:
                log.warning("pod %s was assumed on %s but bound to %s", pod.key, assumed.node_name, pod.node_name)
        self._place(pod)

    def update_pod(self, pod: PodInfo) -> None:
        self.add_pod(pod)

    def _place(self, pod: PodInfo) -> None:
        current = self.pod_nodes.get(pod.uid)
        if current is not None:
            old_info = self.nodes.get(current)
            if old_info is not None:
                self._take(old_info, pod.uid)
                self._drop_if_empty_placeholder(old_info)
        info = self._node_for(pod.node_name)
        info.add_pod(pod)
        key = (pod.namespace, pod.labels_key)
        self.label_index.setdefault(pod.namespace, {}).setdefault(pod.labels_key, {})[info.name] = \
            info.label_groups[key]
        if pod.required_anti_affinity_terms:
            add_anti_affinity_terms(self.anti_affinity_index, pod, info.name, 1)
        self.pod_nodes[pod.uid] = pod.node_name

    def _take(self, info: NodeInfo, uid: str) -> PodInfo | None:
        """Remove a pod from a node, and its label group from the index once empty."""
        removed = info.remove_pod(uid)
        if removed is not None and removed.required_anti_affinity_terms:
            add_anti_affinity_terms(self.anti_affinity_index, removed, info.name, -1)
        if removed is not None and (removed.namespace, removed.labels_key) not in info.label_groups:
            groups = self.label_index.get(removed.namespace, {})
            by_node = groups.get(removed.labels_key)
            if by_node is not None:
                by_node.pop(info.name, None)
                if not by_node:
                    del groups[removed.labels_key]
                    if not groups:
                        self.label_index.pop(removed.namespace, None)
        return removed

    def remove_pod(self, pod: PodInfo) -> PodInfo | None:
        self.assumed.pop(pod.uid, None)
        self.binding_finished.discard(pod.uid)
        name = self.pod_nodes.pop(pod.uid, None)
        if name is None:
            return None
        info = self.nodes.get(name)
        if info is None:
            return None
        removed = self._take(info, pod.uid)
        self._drop_if_empty_placeholder(info)
        return removed

    def _drop_if_empty_placeholder(self, info: NodeInfo) -> None:
        if info.node is None and not info.pods:
            self.nodes.pop(info.name, None)

    def assume_pod(self, pod: PodInfo, node_name: str) -> PodInfo:
        """Place a pod on its chosen node before the API has confirmed the binding."""
        if pod.uid in self.pod_nodes:
            raise ValueError(f"pod {pod.key} is already in the cache")
        assumed = pod.with_node(node_name)
        self.assumed[pod.uid] = assumed
        self._place(assumed)
        return assumed

    def finish_binding(self, pod: PodInfo) -> None:
        if pod.uid in self.assumed:
            self.binding_finished.add(pod.uid)

    def forget_pod(self, pod: PodInfo) -> None:
        """Binding failed: give the room back (unless the informer already confirmed the pod)."""
        if pod.uid in self.assumed:
            self.remove_pod(pod)

    def is_assumed(self, pod: PodInfo) -> bool:
        return pod.uid in self.assumed

    def pod_count(self) -> int:
        return len(self.pod_nodes)

    # ------------------------------------------------------------------ snapshot views
    def node_infos(self) -> list[NodeInfo]:
        if self._order is None:
            zones = [names for names in self._zones.values() if names]
            order: list[NodeInfo] = []
            longest = max((len(z) for z in zones), default=0)
            for i in range(longest):
                for names in zones:
                    if i < len(names):
                        order.append(self.nodes[names[i]])
            self._order = order
        return self._order

    def get(self, name: str) -> NodeInfo | None:
        info = self.nodes.get(name)
        return info if info is not None and info.node is not None else None

    def nodes_with_affinity_pods(self) -> list[NodeInfo]:
        return [n for n in self.node_infos() if n.pods_with_affinity]

    def nodes_with_required_anti_affinity_pods(self) -> list[NodeInfo]:
        return [n for n in self.node_infos() if n.pods_with_required_anti_affinity]

    def image_num_nodes(self, image: str) -> int:
        return len(self.image_nodes.get(image, ()))

    def num_nodes(self) -> int:
        return len(self._node_zone)
