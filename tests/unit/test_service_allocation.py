"""Service cluster IPs and node ports: the ranges, the storage-backed allocator, the linked Service
fields and the allocation hooks, against a real SQLite store."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from kubeherd.api import errors
from kubeherd.apiserver.services import fields
from kubeherd.apiserver.services.allocation import ServiceAllocations
from kubeherd.apiserver.services.allocator import RecordAllocator
from kubeherd.apiserver.services.ranges import AlreadyAllocated, NotInRange, PortRange, RangeFull, ServiceCIDR
from kubeherd.storage.sqlite import SQLiteStore

CIDR = ServiceCIDR.parse("10.43.0.0/16")
PORTS = PortRange.parse("30000-32767")


def with_store(path: Path, body: Callable[[SQLiteStore], Awaitable[None]]) -> None:
    async def main() -> None:
        store = SQLiteStore(path / "state.db")
        await store.start()
        try:
            await body(store)
        finally:
            await store.close()

    asyncio.run(main())


def service(name: str = "web", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"},
            "spec": {"type": "ClusterIP", "ports": [{"port": 80, "protocol": "TCP"}], **spec}}


# ------------------------------------------------------------------------------------- ranges
def test_service_cidr_bands_and_bounds_follow_upstream() -> None:
    assert CIDR.size == 65534  # neither the network nor the broadcast address
    assert CIDR.band == 256  # min(max(16, 65536/16), 256)
    assert CIDR.first() == "10.43.0.1"
    assert CIDR.ip(CIDR.value("10.43.200.7")) == "10.43.200.7"
    for outside in ("10.43.0.0", "10.43.255.255", "10.44.0.1", "fd00::1", "nonsense"):
        with pytest.raises(NotInRange, match=r"The range of valid IPs is 10\.43\.0\.0/16"):
            CIDR.value(outside)
    assert ServiceCIDR.parse("10.0.0.0/24").band == 16


def test_node_port_range_bands_and_messages() -> None:
    assert PORTS.size == 2768
    assert PORTS.band == 86  # min(max(16, 2768/32), 128)
    assert PORTS.port(PORTS.value(32767)) == 32767
    with pytest.raises(NotInRange, match="The range of valid ports is 30000-32767$"):
        PORTS.value(29999)
    with pytest.raises(ValueError):
        PortRange.parse("32767-30000")


# ------------------------------------------------------------------------------------- allocator
def test_dynamic_values_come_from_the_upper_band_until_it_is_full(tmp_path: Path) -> None:
    small = ServiceCIDR.parse("10.9.0.0/27")  # 30 addresses, the lowest 16 kept for static use

    async def body(store: SQLiteStore) -> None:
        alloc = RecordAllocator(store, "/registry/test/", small.size, small.band, small.ip)
        upper = [await alloc.allocate_next(b"{}") for _ in range(small.size - small.band)]
        assert sorted(upper) == list(range(small.band, small.size))
        lower = [await alloc.allocate_next(b"{}") for _ in range(small.band)]
        assert sorted(lower) == list(range(small.band))
        with pytest.raises(RangeFull):
            await alloc.allocate_next(b"{}")

    with_store(tmp_path, body)


def test_concurrent_allocations_are_distinct_even_across_allocators(tmp_path: Path) -> None:
    """Two allocators on one store stand for two servers: their views of what is used differ,
    the store's create-if-absent keeps them apart."""

    async def body(store: SQLiteStore) -> None:
        a = RecordAllocator(store, "/registry/test/", 40, 0, str)
        b = RecordAllocator(store, "/registry/test/", 40, 0, str)
        got = await asyncio.gather(*(x.allocate_next(b"{}") for x in (a, b) * 20))
        assert sorted(got) == list(range(40))
        with pytest.raises(RangeFull):
            await b.allocate_next(b"{}")

    with_store(tmp_path, body)


def test_a_requested_value_is_refused_while_held_and_free_again_once_released(tmp_path: Path) -> None:
    async def body(store: SQLiteStore) -> None:
        alloc = RecordAllocator(store, "/registry/test/", 100, 10, str)
        await alloc.allocate(5, b"{}")
        with pytest.raises(AlreadyAllocated):
            await alloc.allocate(5, b"{}")
        await alloc.release(5)
        await alloc.allocate(5, b"{}")
        fresh = RecordAllocator(store, "/registry/test/", 100, 10, str)  # a restarted server
        assert await fresh.load(int) == {5: b"{}"}
        assert fresh.has(5)

    with_store(tmp_path, body)


# ------------------------------------------------------------------------------------- fields
def test_defaults_follow_upstream() -> None:
    svc = service(type="LoadBalancer", sessionAffinity="ClientIP")
    fields.default_service(svc)
    spec = svc["spec"]
    assert spec["externalTrafficPolicy"] == "Cluster"
    assert spec["internalTrafficPolicy"] == "Cluster"
    assert spec["allocateLoadBalancerNodePorts"] is True
    assert spec["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 10800}}
    assert spec["ports"][0]["targetPort"] == 80
    external = service(type="ExternalName", externalName="db.example.com")
    fields.default_service(external)
    assert "internalTrafficPolicy" not in external["spec"] and "externalTrafficPolicy" not in external["spec"]


def test_an_update_that_omits_allocated_values_keeps_them() -> None:
    old = service(type="NodePort", clusterIP="10.43.7.7", clusterIPs=["10.43.7.7"],
                  ports=[{"name": "http", "port": 80, "nodePort": 30080}])
    new = service(type="NodePort", ports=[{"name": "http", "port": 80}])
    fields.patch_allocated_values(new, old)
    assert new["spec"]["clusterIP"] == "10.43.7.7" and new["spec"]["clusterIPs"] == ["10.43.7.7"]
    assert new["spec"]["ports"][0]["nodePort"] == 30080


def test_changing_to_external_name_clears_the_cluster_ip_unless_the_client_changed_it() -> None:
    old = service(clusterIP="10.43.7.7", clusterIPs=["10.43.7.7"], ipFamilies=["IPv4"], ipFamilyPolicy="SingleStack")
    new = service(type="ExternalName", externalName="x.example", clusterIP="10.43.7.7", clusterIPs=["10.43.7.7"],
                  ipFamilies=["IPv4"], ipFamilyPolicy="SingleStack")
    fields.drop_type_dependent_fields(new, old)
    assert not {"clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"} & set(new["spec"])
    changed = service(type="ExternalName", externalName="x.example", clusterIP="10.43.8.8")
    fields.drop_type_dependent_fields(changed, old)
    assert changed["spec"]["clusterIP"] == "10.43.8.8"  # left for validation to refuse


def test_normalize_fills_the_list_from_the_single_field() -> None:
    svc = service(clusterIP="10.43.1.1")
    fields.normalize_cluster_ips(svc, None)
    assert svc["spec"]["clusterIPs"] == ["10.43.1.1"]
    old = service(clusterIP="10.43.1.1", clusterIPs=["10.43.1.1"])
    new = service(clusterIP="10.43.2.2", clusterIPs=["10.43.1.1"])
    fields.normalize_cluster_ips(new, old)
    assert new["spec"]["clusterIPs"] == ["10.43.2.2"]  # validation then says it may not change


# ------------------------------------------------------------------------------------- hooks
def test_create_allocates_and_a_failed_write_gives_everything_back(tmp_path: Path) -> None:
    async def body(store: SQLiteStore) -> None:
        alloc = ServiceAllocations(store, CIDR, PORTS)
        svc = service(type="LoadBalancer", externalTrafficPolicy="Local", allocateLoadBalancerNodePorts=True)
        finish = await alloc.begin_create(svc, dry_run=False)
        spec = svc["spec"]
        assert ipaddress.ip_address(spec["clusterIP"]) in CIDR.network and spec["clusterIPs"] == [spec["clusterIP"]]
        assert CIDR.value(spec["clusterIP"]) >= CIDR.band
        assert spec["ipFamilies"] == ["IPv4"] and spec["ipFamilyPolicy"] == "SingleStack"
        node_port, health = spec["ports"][0]["nodePort"], spec["healthCheckNodePort"]
        assert 30000 + PORTS.band <= node_port <= 32767 and 30000 + PORTS.band <= health <= 32767
        assert node_port != health
        await finish(False)  # the Service write failed
        assert not alloc.ips.used and not alloc.ports.used
        again = service(clusterIP=spec["clusterIP"])
        await (await alloc.begin_create(again, dry_run=False))(True)

    with_store(tmp_path, body)


def test_requested_values_are_refused_with_upstreams_messages(tmp_path: Path) -> None:
    async def body(store: SQLiteStore) -> None:
        alloc = ServiceAllocations(store, CIDR, PORTS)
        await alloc.begin_create(service("a", clusterIP="10.43.0.50", clusterIPs=["10.43.0.50"]), False)
        with pytest.raises(errors.APIError) as held:
            await alloc.begin_create(service("b", clusterIP="10.43.0.50", clusterIPs=["10.43.0.50"]), False)
        assert held.value.code == 422
        assert held.value.message == ('Service "b" is invalid: spec.clusterIPs: Invalid value: []string{"10.43.0.50"}: '
                                      'failed to allocate IP 10.43.0.50: provided IP is already allocated')
        with pytest.raises(errors.APIError) as port:
            await alloc.begin_create(service("c", type="NodePort", ports=[{"port": 1, "nodePort": 40000}]), False)
        assert port.value.message.endswith("spec.ports[0].nodePort: Invalid value: 40000: provided port is not in "
                                           "the valid range. The range of valid ports is 30000-32767")
        assert not alloc.ports.used  # the cluster IP taken before the port failed was given back
        assert len(alloc.ips.used) == 1

    with_store(tmp_path, body)


def test_headless_and_external_name_services_get_no_address(tmp_path: Path) -> None:
    async def body(store: SQLiteStore) -> None:
        alloc = ServiceAllocations(store, CIDR, PORTS)
        headless = service(clusterIP="None", clusterIPs=["None"], selector={"app": "db"})
        await alloc.begin_create(headless, False)
        assert headless["spec"]["clusterIPs"] == ["None"] and headless["spec"]["ipFamilies"] == ["IPv4"]
        selectorless = service(clusterIP="None", clusterIPs=["None"])
        await alloc.begin_create(selectorless, False)
        assert selectorless["spec"]["ipFamilyPolicy"] == "RequireDualStack"
        assert selectorless["spec"]["ipFamilies"] == ["IPv4", "IPv6"]  # as upstream, on any cluster
        external = service(type="ExternalName", externalName="db.example.com")
        await alloc.begin_create(external, False)
        assert "clusterIP" not in external["spec"] and "ipFamilies" not in external["spec"]
        assert not alloc.ips.used

    with_store(tmp_path, body)


def test_type_changes_allocate_and_release(tmp_path: Path) -> None:
    async def body(store: SQLiteStore) -> None:
        alloc = ServiceAllocations(store, CIDR, PORTS)
        old = service(type="NodePort")
        await (await alloc.begin_create(old, False))(True)
        new = service(type="ExternalName", externalName="x.example")
        await (await alloc.begin_update(new, old, False))(True)
        assert not alloc.ips.used and not alloc.ports.used
        back = service(type="ClusterIP")
        await (await alloc.begin_update(back, new, False))(True)
        assert back["spec"]["clusterIP"] and len(alloc.ips.used) == 1

    with_store(tmp_path, body)


def test_repair_adopts_missing_records_and_releases_leaked_ones(tmp_path: Path) -> None:
    async def body(store: SQLiteStore) -> None:
        alloc = ServiceAllocations(store, CIDR, PORTS)
        await alloc.ips.allocate(CIDR.value("10.43.9.9"), b"{}")  # its Service never got stored
        stored = service(type="NodePort", clusterIP="10.43.1.2", clusterIPs=["10.43.1.2"],
                         ports=[{"port": 80, "nodePort": 30100}])
        await alloc.repair([stored], grace=True)
        assert alloc.ips.has(CIDR.value("10.43.9.9"))  # a suspect only, the first time
        assert alloc.ips.has(CIDR.value("10.43.1.2")) and alloc.ports.has(PORTS.value(30100))
        await alloc.repair([stored], grace=True)
        assert not alloc.ips.has(CIDR.value("10.43.9.9"))
        with pytest.raises(errors.APIError, match="already allocated"):
            await alloc.begin_create(service("dup", clusterIP="10.43.1.2", clusterIPs=["10.43.1.2"]), False)

    with_store(tmp_path, body)


def test_health_check_node_port_is_only_valid_for_local_load_balancers() -> None:
    from kubeherd.api import validation

    svc = service(type="NodePort", externalTrafficPolicy="Local", healthCheckNodePort=30123)
    causes = validation.validate("", "Service", svc, namespaced=True)
    assert [str(c) for c in causes] == ["spec.healthCheckNodePort: Invalid value: 30123: may only be set when `type` "
                                        "is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"]
    svc["spec"]["type"] = "LoadBalancer"
    assert validation.validate("", "Service", svc, namespaced=True) == []


def test_a_dry_run_takes_nothing(tmp_path: Path) -> None:
    async def body(store: SQLiteStore) -> None:
        alloc = ServiceAllocations(store, CIDR, PORTS)
        dry = service(type="NodePort", clusterIP="10.43.0.70", clusterIPs=["10.43.0.70"])
        await (await alloc.begin_create(dry, dry_run=True))(True)
        assert 30000 <= dry["spec"]["ports"][0]["nodePort"] <= 32767
        dynamic = service()
        await alloc.begin_create(dynamic, dry_run=True)
        assert dynamic["spec"]["clusterIP"] == "10.43.0.0"  # upstream's dry-run answer: the network address
        assert not alloc.ips.used and not alloc.ports.used
        await alloc.begin_create(service(clusterIP="10.43.0.70", clusterIPs=["10.43.0.70"]), dry_run=False)

    with_store(tmp_path, body)
