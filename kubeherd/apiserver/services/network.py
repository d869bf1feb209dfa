"""`ServiceNetwork`: what the API server wires in for Service networking.

The Service write hooks (allocation.py) on the registry, their repair pass before the server
takes requests, and afterwards the background repair and the `kubernetes` Service reconciler
(kubernetes.py). The DNS Service's address (`--cluster-dns`, 10.43.0.10 by default) needs no
reservation: it lies in the lower band of the range (ranges.py), which dynamic allocation only
reaches once the upper band is full, and upstream too leaves it to the DNS add-on to claim.
"""


from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

from kubeherd.apiserver.registry import Registry
from kubeherd.apiserver.services.allocation import ServiceAllocations
from kubeherd.apiserver.services.kubernetes import KubernetesService, advertise_address
from kubeherd.apiserver.services.ranges import NotInRange, PortRange, ServiceCIDR


@dataclass
class ServiceNetworkConfig:
    service_cidr: str = "10.43.0.0/16"
    node_port_range: str = "30000-32767"
    cluster_dns: str = "10.43.0.10"
    advertise_address: str = ""  # default: the bind address, or the host's default-route address

    def check(self) -> tuple[ServiceCIDR, PortRange]:
        """Parse the settings; ValueError with a one-line reason when one is wrong."""
        cidr = ServiceCIDR.parse(self.service_cidr)
        ports = PortRange.parse(self.node_port_range)
        if self.cluster_dns:
            try:
                cidr.value(self.cluster_dns)
            except NotInRange:
                raise ValueError(f"cluster DNS address {self.cluster_dns} is not in the service CIDR {cidr}") from None
        return cidr, ports


class ServiceNetwork:
    def __init__(self, registry: Registry, config: ServiceNetworkConfig) -> None:
        self.cidr, self.port_range = config.check()
        self.registry = registry
        self.config = config
        self.allocations = ServiceAllocations(registry.store, self.cidr, self.port_range)
        registry.write_hooks[("", "Service")] = self.allocations
        services = registry.catalog.lookup("", "v1", "services")
        assert services is not None
        self._services = services
        self.kubernetes: KubernetesService | None = None
        self._tasks: list[asyncio.Task[Any]] = []

    async def stored_services(self) -> list[dict[str, Any]]:
        cache = self.registry.cache
        await cache.wait_fresh()
        return [c.obj for c in cache.resource(self._services.storage_prefix).select("")]

    async def repair(self) -> None:
        """Before the server takes requests: allocation records match the stored Services."""
        await self.allocations.repair(await self.stored_services())

    async def start(self, bind_address: str, port: int) -> None:
        """Once the server listens on `port`: the `kubernetes` Service, then the background loops."""
        address = advertise_address(bind_address, self.config.advertise_address)
        self.kubernetes = KubernetesService(self.registry, self.registry.catalog, self.cidr.first(), address, port)
        await self.kubernetes.reconcile()
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self.kubernetes.run()),
                       loop.create_task(self.allocations.repair_loop(self.stored_services))]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
