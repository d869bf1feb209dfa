"""Node IPAM: give every node a `spec.podCIDR` (a /24 of the cluster CIDR, 10.42.0.0/16 by default).

The allocator's state is nothing but the nodes themselves: each sync rebuilds the set of used
ranges from the informer, so a restarted controller never hands out a range twice.
"""

from __future__ import annotations

import ipaddress

from kubeherd.client import APIStatusError
from kubeherd.controllers.base import NODES, Context, Controller

CLUSTER_CIDR = "10.42.0.0/16"
NODE_MASK = 24


class NodeIPAMController(Controller):
    name = "nodeipam"
    workers = 1  # one allocator: two workers could pick the same free range

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.network = ipaddress.ip_network(ctx.options.get("cluster_cidr") or CLUSTER_CIDR)
        self.node_mask = int(ctx.options.get("node_cidr_mask_size") or NODE_MASK)
        self.nodes = self.informer(NODES)
        self.watch(self.nodes)
        self._assigned: dict[str, str] = {}  # ranges handed out whose node update we have not seen yet

    def _used(self) -> set[str]:
        used = {n["spec"]["podCIDR"] for n in self.nodes.indexer.objects() if (n.get("spec") or {}).get("podCIDR")}
        names = {n["metadata"]["name"] for n in self.nodes.indexer.objects()}
        self._assigned = {k: v for k, v in self._assigned.items() if k in names}
        return used | set(self._assigned.values())

    async def sync(self, key: str) -> None:
        node = self.nodes.indexer.get(key)
        if node is None or (node.get("spec") or {}).get("podCIDR"):
            self._assigned.pop(key, None)
            return
        if key in self._assigned:
            cidr = self._assigned[key]
        else:
            used = self._used()
            cidr = next((str(s) for s in self.network.subnets(new_prefix=self.node_mask) if str(s) not in used), "")
            if not cidr:
                self.recorder.record(node, "Warning", "CIDRNotAvailable",
                                     f"Node {key} status is now: CIDRNotAvailable")
                return
            self._assigned[key] = cidr
        try:
            await self.client.patch(NODES, key, {"spec": {"podCIDR": cidr, "podCIDRs": [cidr]}})
        except APIStatusError as exc:
            if exc.code != 404:
                raise
