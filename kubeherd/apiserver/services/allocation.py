"""Cluster IPs and node ports for Services: allocated on write, released on delete, repaired.

The registry calls these hooks for Services (after validation, before the storage write):

- `begin_create` / `begin_update` take what the new object needs — a cluster IP unless it is
  headless or ExternalName, node ports for NodePort and LoadBalancer ports (unless
  `allocateLoadBalancerNodePorts` is false), a health-check node port for a LoadBalancer with
  `externalTrafficPolicy: Local` — honouring requested values, and fill in `clusterIP(s)`,
  `ipFamilies` and `ipFamilyPolicy` (single-stack: the service CIDR's family). They return the
  transaction's end: on success the values the old object held and the new one does not are
  released; on failure the values just taken are.
- `after_delete` releases everything a Service held once it has left storage.

Requests for a held or out-of-range value are 422 Invalid with upstream's field messages
("failed to allocate IP …: provided IP is already allocated"). Dry runs check requested values
and take nothing; a dynamic cluster IP in a dry run is the CIDR's network address, as upstream's
allocator answers.

Records are kept per value (allocator.py). `repair` reconciles them with the stored Services at
start-up (a crash between the record write and the Service write leaves a record behind; a
Service restored from elsewhere may have none) and then every few minutes, when a record is only
released once it was found leaked on two passes in a row (a Service being created holds its
record before it is stored).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from kubeherd.api import errors
from kubeherd.api.validation.field import GoRaw, go_quote, index, invalid
from kubeherd.apiserver.services import fields
from kubeherd.apiserver.services.allocator import RecordAllocator
from kubeherd.apiserver.services.ranges import (
    AllocationError,
    AlreadyAllocated,
    NotInRange,
    PortRange,
    RangeFull,
    ServiceCIDR,
)
from kubeherd.storage.interface import Store

log = logging.getLogger(__name__)

Obj = dict[str, Any]
Finish = Callable[[bool], Awaitable[None]]

IP_PREFIX = "/registry/networking.k8s.io/ipaddresses/"
NODE_PORT_PREFIX = "/registry/ranges/servicenodeports/"
MANAGED_BY = "ipallocator.k8s.io"
REPAIR_INTERVAL = 180.0


class _Transaction:
    """What one write took and what it will give back."""

    def __init__(self, owner: ServiceAllocations, dry_run: bool) -> None:
        self.owner = owner
        self.dry_run = dry_run
        self.taken_ips: list[int] = []
        self.taken_ports: list[int] = []
        self.release_ips: list[int] = []
        self.release_ports: list[int] = []

    async def finish(self, success: bool) -> None:
        if self.dry_run:
            return
        ips, ports = (self.release_ips, self.release_ports) if success else (self.taken_ips, self.taken_ports)
        for value in ips:
            await self.owner.ips.release(value)
        for value in ports:
            await self.owner.ports.release(value)


class ServiceAllocations:
    def __init__(self, store: Store, cidr: ServiceCIDR, port_range: PortRange) -> None:
        self.store = store
        self.cidr = cidr
        self.port_range = port_range
        self.ips = RecordAllocator(store, IP_PREFIX, cidr.size, cidr.band, cidr.ip)
        self.ports = RecordAllocator(store, NODE_PORT_PREFIX, port_range.size, port_range.band,
                                     lambda v: str(port_range.port(v)))
        self._suspects: tuple[set[int], set[int]] = (set(), set())

    # ------------------------------------------------------------------ hooks
    async def begin_create(self, svc: Obj, dry_run: bool) -> Finish:
        txn = _Transaction(self, dry_run)
        try:
            self._init_ip_families(svc, None)
            await self._allocate_cluster_ips(svc, txn)
            await self._allocate_node_ports(svc, None, txn)
            if fields.needs_health_check(svc):
                await self._allocate_health_check(svc, txn)
        except BaseException:
            await txn.finish(False)
            raise
        return txn.finish

    async def begin_update(self, svc: Obj, old: Obj, dry_run: bool) -> Finish:
        txn = _Transaction(self, dry_run)
        try:
            self._init_ip_families(svc, old)
            if not fields.needs_cluster_ip(old) and fields.needs_cluster_ip(svc):
                await self._allocate_cluster_ips(svc, txn)
            elif fields.needs_cluster_ip(old) and not fields.needs_cluster_ip(svc) and not fields.is_headless(old):
                txn.release_ips.extend(self._ip_values(old))
            if fields.needs_node_port(old) and not fields.needs_node_port(svc):
                txn.release_ports.extend(self._port_values(fields.node_ports(old)))
            if fields.needs_node_port(svc):
                await self._allocate_node_ports(svc, old, txn)
            if not fields.needs_health_check(old) and fields.needs_health_check(svc):
                await self._allocate_health_check(svc, txn)
            elif fields.needs_health_check(old) and not fields.needs_health_check(svc):
                txn.release_ports.extend(self._port_values([fields.spec_of(old).get("healthCheckNodePort")]))
        except BaseException:
            await txn.finish(False)
            raise
        return txn.finish

    async def after_delete(self, svc: Obj) -> None:
        if fields.needs_cluster_ip(svc) and not fields.is_headless(svc):
            for value in self._ip_values(svc):
                await self.ips.release(value)
        held = fields.node_ports(svc)
        if fields.needs_health_check(svc):
            held.append(fields.spec_of(svc).get("healthCheckNodePort") or 0)
        for value in self._port_values(held):
            await self.ports.release(value)

    # ------------------------------------------------------------------ cluster IPs
    def _init_ip_families(self, svc: Obj, old: Obj | None) -> None:
        """ipFamilyPolicy and ipFamilies for a single-stack cluster, with upstream's refusals."""
        if not fields.needs_cluster_ip(svc):
            return
        spec = svc["spec"]
        name = _name(svc)
        family = self.cidr.family
        headless_selectorless = fields.is_headless(svc) and not spec.get("selector")
        if spec.get("ipFamilyPolicy") is None:
            old_policy = fields.spec_of(old).get("ipFamilyPolicy") if old is not None else None
            if old_policy:
                spec["ipFamilyPolicy"] = old_policy
            else:
                spec["ipFamilyPolicy"] = "RequireDualStack" if headless_selectorless else "SingleStack"
        policy = spec["ipFamilyPolicy"]
        families = [str(f) for f in spec.get("ipFamilies") or []]
        ips = fields.cluster_ips(svc)
        causes = []
        if old is not None and policy == "SingleStack":
            if ips == fields.cluster_ips(old) and len(ips) > 1:
                spec["clusterIPs"] = ips = ips[:1]
            if families == list(fields.spec_of(old).get("ipFamilies") or []) and len(families) > 1:
                spec["ipFamilies"] = families = families[:1]
        if policy == "SingleStack":
            if len(ips) == 2:
                causes.append(invalid("spec.ipFamilyPolicy", policy, "must be 'RequireDualStack' or "
                                      "'PreferDualStack' when multiple cluster IPs are specified"))
            if len(families) == 2:
                causes.append(invalid("spec.ipFamilyPolicy", policy, "must be 'RequireDualStack' or "
                                      "'PreferDualStack' when multiple IP families are specified"))
        for i, ip in enumerate(ips):
            if ip == "None":
                break
            ip_family = "IPv6" if ":" in ip else "IPv4"
            if i >= len(families):
                if ip_family != family:
                    causes.append(invalid(index("spec.clusterIPs", i), _go_strings(ips),
                                          f"{ip_family} is not configured on this cluster"))
                else:
                    families.append(ip_family)
        if causes:
            raise errors.invalid("", "Service", name, [c.to_dict() for c in causes])
        if headless_selectorless:
            families = families or [family]
            if len(families) < 2 and policy != "SingleStack":
                families.append("IPv6" if families[0] == "IPv4" else "IPv4")
            spec["ipFamilies"] = families
            return
        if policy == "RequireDualStack":
            causes.append(invalid("spec.ipFamilyPolicy", policy, "this cluster is not configured for dual-stack "
                                  "services"))
        for i, fam in enumerate(families):
            if fam != family:
                causes.append(invalid(index("spec.ipFamilies", i), fam, "not configured on this cluster"))
        if causes:
            raise errors.invalid("", "Service", name, [c.to_dict() for c in causes])
        spec["ipFamilies"] = families or [family]

    async def _allocate_cluster_ips(self, svc: Obj, txn: _Transaction) -> None:
        if not fields.needs_cluster_ip(svc) or fields.is_headless(svc):
            return
        spec = svc["spec"]
        ips = fields.cluster_ips(svc)
        requested = ips[0] if ips else ""
        record = self._ip_record(svc)
        if not requested:
            try:
                if txn.dry_run:
                    ip = str(self.cidr.network.network_address)
                else:
                    value = await self.ips.allocate_next(record)
                    txn.taken_ips.append(value)
                    ip = self.cidr.ip(value)
            except RangeFull as exc:
                raise errors.internal(f"failed to allocate a serviceIP: {exc}") from None
        else:
            try:
                value = self.cidr.value(requested)
                if txn.dry_run:
                    pass  # upstream's allocator only checks the range in a dry run
                else:
                    await self.ips.allocate(value, record)
                    txn.taken_ips.append(value)
            except AllocationError as exc:
                message = "provided IP is already allocated" if isinstance(exc, AlreadyAllocated) else str(exc)
                raise errors.invalid("", "Service", _name(svc), [invalid(
                    "spec.clusterIPs", _go_strings(ips), f"failed to allocate IP {requested}: {message}").to_dict()]) \
                    from None
            ip = requested
        spec["clusterIP"] = ip
        spec["clusterIPs"] = [ip, *ips[1:]]

    def _ip_values(self, svc: Obj) -> list[int]:
        values = []
        for ip in fields.cluster_ips(svc) or [str(fields.spec_of(svc).get("clusterIP") or "")]:
            with contextlib.suppress(NotInRange):
                values.append(self.cidr.value(ip))
        return values

    def _ip_record(self, svc: Obj) -> bytes:
        meta = svc.get("metadata") or {}
        return orjson.dumps({
            "apiVersion": "networking.k8s.io/v1", "kind": "IPAddress",
            "metadata": {"labels": {"ipaddress.kubernetes.io/ip-family": self.cidr.family,
                                    "ipaddress.kubernetes.io/managed-by": MANAGED_BY},
                         "uid": str(uuid.uuid4()), "creationTimestamp": _now()},
            "spec": {"parentRef": {"group": "", "resource": "services", "namespace": meta.get("namespace", ""),
                                   "name": meta.get("name", "")}},
        })

    # ------------------------------------------------------------------ node ports
    async def _allocate_node_ports(self, svc: Obj, old: Obj | None, txn: _Transaction) -> None:
        """Node ports for every port (or only requested ones when the LoadBalancer asks for none);
        ports of one service number share a node port, as upstream."""
        if not fields.needs_node_port(svc):
            return
        allocate = fields.should_allocate_node_ports(svc)
        held = set(fields.node_ports(old)) if old is not None and fields.needs_node_port(old) else set()
        mine: dict[int, int] = {}  # node ports this write took or kept
        by_service_port: dict[Any, int] = {}
        ports = [p for p in fields.spec_of(svc).get("ports") or [] if isinstance(p, dict)]
        for i, port in enumerate(ports):
            wanted = port.get("nodePort") or 0
            if not wanted and not allocate:
                continue
            if not wanted and old is None:
                wanted = by_service_port.get(port.get("port"), 0) or next(
                    (p.get("nodePort") for p in ports if p.get("port") == port.get("port") and p.get("nodePort")), 0)
            if wanted:
                if wanted not in held and wanted not in mine:
                    try:
                        await self._take_port(svc, wanted, txn)
                    except AllocationError as exc:
                        raise _port_invalid(svc, index("spec.ports", i) + ".nodePort", wanted, exc) from None
                mine[wanted] = wanted
                port["nodePort"] = wanted
            else:
                port["nodePort"] = await self._next_port(svc, txn, "failed to allocate a nodePort")
                mine[port["nodePort"]] = port["nodePort"]
            by_service_port[port.get("port")] = port["nodePort"]
        if old is not None:
            txn.release_ports.extend(self._port_values([p for p in held if p not in mine]))

    async def _allocate_health_check(self, svc: Obj, txn: _Transaction) -> None:
        spec = svc["spec"]
        wanted = spec.get("healthCheckNodePort") or 0
        if wanted:
            try:
                await self._take_port(svc, wanted, txn)
            except AllocationError as exc:
                raise errors.internal(f"failed to allocate requested HealthCheck NodePort {wanted}: "
                                      f"{_port_message(exc)}") from None
        else:
            spec["healthCheckNodePort"] = await self._next_port(svc, txn, "failed to allocate a HealthCheck NodePort 0")

    async def _take_port(self, svc: Obj, port: int, txn: _Transaction) -> None:
        value = self.port_range.value(port)
        if txn.dry_run:
            if self.ports.has(value):
                raise AlreadyAllocated()
            return
        await self.ports.allocate(value, self._port_record(svc))
        txn.taken_ports.append(value)

    async def _next_port(self, svc: Obj, txn: _Transaction, what: str) -> int:
        try:
            if txn.dry_run:
                return self.port_range.port(self.ports.peek_next())
            value = await self.ports.allocate_next(self._port_record(svc))
        except RangeFull as exc:
            raise errors.internal(f"{what}: {exc}") from None
        txn.taken_ports.append(value)
        return self.port_range.port(value)

    def _port_values(self, ports: list[Any]) -> list[int]:
        values = []
        for port in ports:
            if isinstance(port, int) and port:
                with contextlib.suppress(NotInRange):
                    values.append(self.port_range.value(port))
        return values

    def _port_record(self, svc: Obj) -> bytes:
        meta = svc.get("metadata") or {}
        return orjson.dumps({"namespace": meta.get("namespace", ""), "name": meta.get("name", "")})

    # ------------------------------------------------------------------ repair
    async def repair(self, services: list[Obj], *, grace: bool = False) -> None:
        """Make the records match the stored Services: write missing ones, release leaked ones
        (with `grace`, only those already found leaked by the previous pass)."""
        ip_records = await self.ips.load(self._parse_ip)
        port_records = await self.ports.load(self._parse_port)
        want_ips: dict[int, Obj] = {}
        want_ports: dict[int, Obj] = {}
        for svc in services:
            if fields.needs_cluster_ip(svc) and not fields.is_headless(svc):
                for ip in fields.cluster_ips(svc):
                    self._claim(want_ips, svc, ip, self.cidr.value, "cluster IP")
            held: list[Any] = fields.node_ports(svc) if fields.needs_node_port(svc) else []
            if fields.needs_health_check(svc) and fields.spec_of(svc).get("healthCheckNodePort"):
                held.append(fields.spec_of(svc)["healthCheckNodePort"])
            for port in held:
                self._claim(want_ports, svc, port, self.port_range.value, "node port")
        for value, svc in want_ips.items():
            if value not in ip_records:
                await self.ips.adopt(value, self._ip_record(svc))
        for value, svc in want_ports.items():
            if value not in port_records:
                await self.ports.adopt(value, self._port_record(svc))
        leaked = ({v for v in ip_records if v not in want_ips}, {v for v in port_records if v not in want_ports})
        release = (leaked[0] & self._suspects[0], leaked[1] & self._suspects[1]) if grace else leaked
        for value in release[0]:
            log.info("releasing leaked cluster IP %s", self.cidr.ip(value))
            await self.ips.release(value)
        for value in release[1]:
            log.info("releasing leaked node port %d", self.port_range.port(value))
            await self.ports.release(value)
        self._suspects = (leaked[0] - release[0], leaked[1] - release[1]) if grace else (set(), set())

    @staticmethod
    def _claim(want: dict[int, Obj], svc: Obj, raw: Any, to_value: Callable[[Any], int], what: str) -> None:
        meta = svc.get("metadata") or {}
        try:
            value = to_value(raw)
        except (AllocationError, TypeError):
            log.warning("%s %s of Service %s/%s is outside the configured range", what, raw,
                        meta.get("namespace"), meta.get("name"))
            return
        other = want.get(value)
        if other is not None and other is not svc:
            log.warning("%s %s is held by Services %s/%s and %s/%s", what, raw, meta.get("namespace"),
                        meta.get("name"), other["metadata"].get("namespace"), other["metadata"].get("name"))
            return
        want[value] = svc

    def _parse_ip(self, name: str) -> int | None:
        try:
            return self.cidr.value(name)
        except NotInRange:
            return None

    def _parse_port(self, name: str) -> int | None:
        try:
            return self.port_range.value(int(name))
        except (ValueError, NotInRange):
            return None

    async def repair_loop(self, services: Callable[[], Awaitable[list[Obj]]]) -> None:
        while True:
            await asyncio.sleep(REPAIR_INTERVAL)
            try:
                await self.repair(await services(), grace=True)
            except Exception:
                log.exception("repairing Service allocations failed")


def _port_message(exc: AllocationError) -> str:
    return "provided port is already allocated" if isinstance(exc, AlreadyAllocated) else str(exc)


def _port_invalid(svc: Obj, path: str, port: int, exc: AllocationError) -> errors.APIError:
    return errors.invalid("", "Service", _name(svc), [invalid(path, port, _port_message(exc)).to_dict()])


def _name(svc: Obj) -> str:
    return str((svc.get("metadata") or {}).get("name") or "")


def _go_strings(values: list[str]) -> GoRaw:
    return GoRaw("[]string{" + ", ".join(go_quote(v) for v in values) + "}")


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
