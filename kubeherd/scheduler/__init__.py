"""kube-scheduler for kubeherd: assigns pending pods to nodes through the API.

The pieces, each in its own module:
- `types`, `podinfo`, `nodeinfo`: the scheduler's parsed view of pods and nodes;
- `cache`: nodes and the pods on them (assumed pods included), kept from informers;
- `queue`: active heap, back-off queue and the unschedulable pool moved by cluster `events`;
- `framework`: extension points, profiles and the plugin runtime; `plugins/`: one module per plugin;
- `scheduler`: the scheduling and binding cycles; `api`: every write it makes;
- `server`: leader election and informers, as run inside `kubeherd server`.

It is a client of the API only (kubeherd.client and kubeherd.api), like upstream's kube-scheduler.
"""

from kubeherd.scheduler.framework import PluginConfig, Profile
from kubeherd.scheduler.listers import StaticListers
from kubeherd.scheduler.nodeinfo import NodeInfo
from kubeherd.scheduler.plugins import DEFAULT_PLUGINS, REGISTRY, default_profile
from kubeherd.scheduler.podinfo import PodInfo
from kubeherd.scheduler.scheduler import Scheduler, num_feasible_nodes_to_find
from kubeherd.scheduler.server import KubeScheduler

__all__ = [
    "DEFAULT_PLUGINS", "REGISTRY", "KubeScheduler", "NodeInfo", "PluginConfig", "PodInfo", "Profile", "Scheduler",
    "StaticListers", "default_profile", "num_feasible_nodes_to_find",
]
