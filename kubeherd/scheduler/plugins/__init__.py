"""The in-tree plugins, the registry that builds them by name, and upstream's default profile.

Order matters: plugins run at each extension point in profile order, and a node's failure
reasons come from the first Filter that rejects it. The default order and score weights are
upstream's (kube-scheduler v1 default plugins): TaintToleration 3, NodeAffinity 2,
PodTopologySpread 2, InterPodAffinity 2, NodeResourcesFit 1, BalancedAllocation 1,
ImageLocality 1. Volume plugins other than VolumeBinding (limits, zones, restrictions) belong to
the storage work and are not here yet.
"""

from __future__ import annotations

from kubeherd.scheduler.framework import PluginConfig, PluginFactory, Profile
from kubeherd.scheduler.plugins.balanced_allocation import BalancedAllocation
from kubeherd.scheduler.plugins.default_binder import DefaultBinder
from kubeherd.scheduler.plugins.default_preemption import DefaultPreemption
from kubeherd.scheduler.plugins.image_locality import ImageLocality
from kubeherd.scheduler.plugins.inter_pod_affinity import InterPodAffinity
from kubeherd.scheduler.plugins.node_affinity import NodeAffinity
from kubeherd.scheduler.plugins.node_name import NodeName
from kubeherd.scheduler.plugins.node_ports import NodePorts
from kubeherd.scheduler.plugins.node_resources_fit import NodeResourcesFit
from kubeherd.scheduler.plugins.node_unschedulable import NodeUnschedulable
from kubeherd.scheduler.plugins.pod_topology_spread import PodTopologySpread
from kubeherd.scheduler.plugins.priority_sort import PrioritySort
from kubeherd.scheduler.plugins.scheduling_gates import SchedulingGates
from kubeherd.scheduler.plugins.taint_toleration import TaintToleration
from kubeherd.scheduler.plugins.volume_binding import VolumeBinding

DEFAULT_SCHEDULER_NAME = "default-scheduler"

REGISTRY: dict[str, PluginFactory] = {
    cls.name: cls for cls in (
        SchedulingGates, PrioritySort, NodeUnschedulable, NodeName, TaintToleration, NodeAffinity, NodePorts,
        NodeResourcesFit, VolumeBinding, PodTopologySpread, InterPodAffinity, DefaultPreemption,
        BalancedAllocation, ImageLocality, DefaultBinder,
    )
}

DEFAULT_PLUGINS: tuple[PluginConfig, ...] = (
    PluginConfig("SchedulingGates"),
    PluginConfig("PrioritySort"),
    PluginConfig("NodeUnschedulable"),
    PluginConfig("NodeName"),
    PluginConfig("TaintToleration", 3),
    PluginConfig("NodeAffinity", 2),
    PluginConfig("NodePorts"),
    PluginConfig("NodeResourcesFit", 1),
    PluginConfig("VolumeBinding"),
    PluginConfig("PodTopologySpread", 2),
    PluginConfig("InterPodAffinity", 2),
    PluginConfig("DefaultPreemption"),
    PluginConfig("NodeResourcesBalancedAllocation", 1),
    PluginConfig("ImageLocality", 1),
    PluginConfig("DefaultBinder"),
)


def default_profile(scheduler_name: str = DEFAULT_SCHEDULER_NAME,
                    percentage_of_nodes_to_score: int | None = None) -> Profile:
    return Profile(scheduler_name, DEFAULT_PLUGINS, percentage_of_nodes_to_score)


__all__ = ["DEFAULT_PLUGINS", "DEFAULT_SCHEDULER_NAME", "REGISTRY", "default_profile"]
