"""The `kubernetes` Service in `default`, and its Endpoints and EndpointSlice: how pods find the API.

As upstream's kube-apiserver (its kubernetes-service controller and endpoint reconciler), the
server keeps three objects right, at start-up and every ten seconds after:

- Service `default/kubernetes`: labels component=apiserver and provider=kubernetes, type
  ClusterIP with the service CIDR's first address, one port `https` 443/TCP whose targetPort is
  the API server's port. An existing Service is only rewritten when its ports or type drifted.
- Endpoints `default/kubernetes` (label `endpointslice.kubernetes.io/skip-mirror: "true"`) and
  EndpointSlice `default/kubernetes` (label `kubernetes.io/service-name: kubernetes`, no
  managed-by label, so the EndpointSlice controller leaves it alone) listing the advertised
  address and port.

The Service has no selector, so the Endpoints and EndpointSlice controllers skip it as upstream's
do. The objects are written through the registry (the apiserver's own storage path), as the
field manager `kube-apiserver`; writes that would change nothing are skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from typing import Any

from kubeherd.api import errors
from kubeherd.api.resources import Catalog, Resource
from kubeherd.apiserver.fieldmanager import WriteManager
from kubeherd.apiserver.registry import DeleteOptions, Registry

log = logging.getLogger(__name__)

Obj = dict[str, Any]

NAMESPACE = "default"
NAME = "kubernetes"
RECONCILE_INTERVAL = 10.0
MANAGER = WriteManager("kube-apiserver")
SKIP_MIRROR = "endpointslice.kubernetes.io/skip-mirror"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"


def advertise_address(bind_address: str, advertise: str = "") -> str:
    """The address other nodes and pods reach this API server at: `advertise` when given, else
    the bind address unless it is a wildcard or loopback, else the host's default-route address
    (as upstream's --advertise-address defaults)."""
    if advertise:
        return advertise
    if bind_address not in ("", "0.0.0.0", "::") and not bind_address.startswith("127.") and bind_address != "::1":
        return bind_address
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("10.255.255.255", 1))  # picks the route's source address; sends nothing
        return str(probe.getsockname()[0])
    with contextlib.suppress(OSError):
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            if not str(info[4][0]).startswith("127."):
                return str(info[4][0])
    return "127.0.0.1"


class KubernetesService:
    def __init__(self, registry: Registry, catalog: Catalog, cluster_ip: str, address: str, port: int) -> None:
        self.registry = registry
        self.cluster_ip = cluster_ip
        self.address = address
        self.port = port
        self.family = "IPv6" if ":" in address else "IPv4"
        self.services = _resource(catalog, "", "services")
        self.endpoints = _resource(catalog, "", "endpoints")
        self.slices = _resource(catalog, "discovery.k8s.io", "endpointslices")

    def service(self) -> Obj:
        return {
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": NAME, "namespace": NAMESPACE,
                         "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {"type": "ClusterIP", "clusterIP": self.cluster_ip, "clusterIPs": [self.cluster_ip],
                     "sessionAffinity": "None", "ports": self._service_ports()},
        }

    def _service_ports(self) -> list[Obj]:
        return [{"name": "https", "protocol": "TCP", "port": 443, "targetPort": self.port}]

    def _endpoint_ports(self) -> list[Obj]:
        return [{"name": "https", "port": self.port, "protocol": "TCP"}]

    async def reconcile(self) -> None:
        await self._reconcile_service()
        await self._reconcile_endpoints()
        await self._reconcile_slice()

    async def run(self) -> None:
        while True:
            await asyncio.sleep(RECONCILE_INTERVAL)
            try:
                await self.reconcile()
            except Exception:
                log.exception("reconciling the kubernetes Service failed")

    async def _current(self, resource: Resource) -> Obj | None:
        try:
            cached = await self.registry.get(resource, NAMESPACE, NAME)
        except errors.APIError as exc:
            if exc.code == 404:
                return None
            raise
        return cached.obj

    async def _write(self, resource: Resource, current: Obj | None, desired: Obj) -> None:
        try:
            if current is None:
                await self.registry.create(resource, NAMESPACE, desired, manager=MANAGER)
            else:
                desired["metadata"] = {**current["metadata"], **desired["metadata"]}
                await self.registry.update(resource, NAMESPACE, NAME, desired, manager=MANAGER)
        except errors.APIError as exc:
            if exc.code != 409:  # created or changed meanwhile: the next pass looks again
                raise

    async def _reconcile_service(self) -> None:
        current = await self._current(self.services)
        if current is None:
            await self._write(self.services, None, self.service())
            return
        spec = current.get("spec") or {}
        ports = [{k: p.get(k) for k in ("name", "protocol", "port", "targetPort")} for p in spec.get("ports") or []]
        if ports == self._service_ports() and spec.get("type") == "ClusterIP" \
                and not any(p.get("nodePort") for p in spec.get("ports") or []):
            return
        log.warning("resetting the ports of Service default/kubernetes")
        updated = {**current, "spec": {**spec, "type": "ClusterIP", "ports": self._service_ports()}}
        await self._write(self.services, current, updated)

    async def _reconcile_endpoints(self) -> None:
        current = await self._current(self.endpoints)
        labels = {SKIP_MIRROR: "true"}
        subsets = [{"addresses": [{"ip": self.address}], "ports": self._endpoint_ports()}]
        if current is not None and current.get("subsets") == subsets and current["metadata"].get("labels") == labels:
            return
        desired = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": NAME, "namespace": NAMESPACE,
                                                                         "labels": labels},
                   "subsets": subsets}
        await self._write(self.endpoints, current, desired)

    async def _reconcile_slice(self) -> None:
        current = await self._current(self.slices)
        labels = {SERVICE_NAME_LABEL: NAME}
        wanted = {"addressType": self.family,
                  "endpoints": [{"addresses": [self.address], "conditions": {"ready": True}}],
                  "ports": self._endpoint_ports()}
        if current is not None and current["metadata"].get("labels") == labels \
                and all(current.get(k) == v for k, v in wanted.items()):
            return
        desired = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                   "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": labels}, **wanted}
        if current is not None and current.get("addressType") != self.family:
            await self.registry.delete(self.slices, NAMESPACE, NAME, DeleteOptions(grace_period=0))
            current = None
        await self._write(self.slices, current, desired)


def _resource(catalog: Catalog, group: str, plural: str) -> Resource:
    resource = catalog.lookup(group, "v1", plural)
    if resource is None:
        raise LookupError(f"{plural}.{group} is not served")
    return resource
