"""Services get cluster IPs and node ports from the server, and the `kubernetes` Service exists,
seen through the real kubectl (oldest and newest clients) and the Python client."""

from __future__ import annotations

import ipaddress
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import CLIENT_VERSIONS, Cluster, start_server, stop_server, wait_for

SERVICE_CIDR = ipaddress.ip_network("10.43.0.0/16")


def namespace(cluster: Cluster, name: str) -> str:
    cluster.kubectl("create", "namespace", name)
    return name


def table(cluster: Cluster, *args: str, version: str = "1.33") -> list[list[str]]:
    out = cluster.kubectl("get", *args, version=version).stdout
    return [line.split() for line in out.strip().splitlines()]


def spec(cluster: Cluster, ns: str, name: str) -> dict[str, Any]:
    return cluster.kubectl_json("get", "service", name, "-n", ns)["spec"]


def in_range(ip: str) -> bool:
    address = ipaddress.ip_address(ip)
    return address in SERVICE_CIDR and address not in (SERVICE_CIDR.network_address, SERVICE_CIDR.broadcast_address)


@pytest.mark.parametrize("version", CLIENT_VERSIONS)
def test_kubectl_create_service_gets_a_cluster_ip_shown_by_get(cluster: Cluster, version: str) -> None:
    ns = namespace(cluster, f"svc-create-{version.replace('.', '-')}")
    cluster.kubectl("create", "service", "clusterip", "a", "--tcp=80", "-n", ns, version=version)
    cluster.kubectl("create", "service", "nodeport", "b", "--tcp=80:8080", "-n", ns, version=version)
    rows = table(cluster, "svc", "-n", ns, version=version)
    assert rows[0] == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    a, b = rows[1], rows[2]
    assert a[:2] == ["a", "ClusterIP"] and in_range(a[2]) and a[3:5] == ["<none>", "80/TCP"]
    assert b[:2] == ["b", "NodePort"] and in_range(b[2]) and b[3] == "<none>"
    port, node_port = b[4].removesuffix("/TCP").split(":")
    assert port == "80" and 30000 <= int(node_port) <= 32767
    assert a[2] != b[2]
    created = spec(cluster, ns, "a")
    assert created["clusterIPs"] == [created["clusterIP"]]
    assert created["ipFamilies"] == ["IPv4"] and created["ipFamilyPolicy"] == "SingleStack"


def test_requested_cluster_ip_is_honoured_and_a_taken_or_foreign_one_refused(cluster: Cluster) -> None:
    ns = namespace(cluster, "svc-requested")
    cluster.kubectl("create", "service", "clusterip", "fixed", "--tcp=80", "--clusterip=10.43.0.77", "-n", ns)
    assert spec(cluster, ns, "fixed")["clusterIP"] == "10.43.0.77"
    taken = cluster.kubectl("create", "service", "clusterip", "again", "--tcp=80", "--clusterip=10.43.0.77",
                            "-n", ns, check=False)
    assert taken.returncode != 0
    assert ('Service "again" is invalid: spec.clusterIPs: Invalid value: []string{"10.43.0.77"}: failed to '
            'allocate IP 10.43.0.77: provided IP is already allocated') in taken.stderr
    foreign = cluster.kubectl("create", "service", "clusterip", "foreign", "--tcp=80", "--clusterip=10.99.0.5",
                              "-n", ns, version="1.27", check=False)
    assert foreign.returncode != 0
    assert "failed to allocate IP 10.99.0.5" in foreign.stderr
    assert "is not in the valid range. The range of valid IPs is 10.43.0.0/16" in foreign.stderr


def test_requested_node_port_is_honoured_and_a_taken_or_foreign_one_refused(cluster: Cluster) -> None:
    ns = namespace(cluster, "svc-nodeport")
    cluster.kubectl("create", "service", "nodeport", "np", "--tcp=80", "--node-port=30555", "-n", ns)
    assert spec(cluster, ns, "np")["ports"][0]["nodePort"] == 30555
    assert table(cluster, "svc", "np", "-n", ns)[1][4] == "80:30555/TCP"
    taken = cluster.kubectl("create", "service", "nodeport", "np2", "--tcp=81", "--node-port=30555", "-n", ns,
                            check=False)
    assert 'Service "np2" is invalid: spec.ports[0].nodePort: Invalid value: 30555: provided port is already ' \
           'allocated' in taken.stderr
    foreign = cluster.kubectl("create", "service", "nodeport", "np3", "--tcp=81", "--node-port=40000", "-n", ns,
                              check=False)
    assert "spec.ports[0].nodePort: Invalid value: 40000: provided port is not in the valid range. The range of " \
           "valid ports is 30000-32767" in foreign.stderr


def test_headless_and_external_name_services_get_no_cluster_ip(cluster: Cluster) -> None:
    ns = namespace(cluster, "svc-no-ip")
    cluster.kubectl("create", "service", "clusterip", "headless", "--clusterip=None", "-n", ns)
    cluster.kubectl("create", "service", "externalname", "ext", "--external-name=db.example.com", "-n", ns)
    rows = {row[0]: row for row in table(cluster, "svc", "-n", ns)[1:]}
    assert rows["headless"][1:5] == ["ClusterIP", "None", "<none>", "<none>"]
    assert rows["ext"][1:5] == ["ExternalName", "<none>", "db.example.com", "<none>"]
    assert "clusterIP" not in spec(cluster, ns, "ext")


def apply_service(cluster: Cluster, ns: str, name: str, version: str = "1.33", **spec_fields: Any) -> None:
    body = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec_fields}
    cluster.kubectl("create", "-n", ns, "-f", "-", input=json.dumps(body), version=version)


def test_deleting_or_retyping_a_service_frees_its_ip_and_node_port(cluster: Cluster) -> None:
    ns = namespace(cluster, "svc-free")
    ports = [{"port": 80, "nodePort": 30600}]
    apply_service(cluster, ns, "first", type="NodePort", ports=ports)
    ip = spec(cluster, ns, "first")["clusterIP"]
    cluster.kubectl("delete", "service", "first", "-n", ns)
    apply_service(cluster, ns, "second", type="NodePort", ports=ports, clusterIP=ip)
    assert spec(cluster, ns, "second")["clusterIP"] == ip
    cluster.kubectl("patch", "service", "second", "-n", ns, "-p",
                    '{"spec":{"type":"ExternalName","externalName":"x.example.com"}}')
    retyped = spec(cluster, ns, "second")
    assert "clusterIP" not in retyped and "nodePort" not in retyped["ports"][0]
    apply_service(cluster, ns, "third", version="1.27", type="NodePort", ports=ports, clusterIP=ip)
    assert spec(cluster, ns, "third")["clusterIP"] == ip
    cluster.kubectl("patch", "service", "second", "-n", ns, "-p", '{"spec":{"type":"ClusterIP"}}')
    back = spec(cluster, ns, "second")["clusterIP"]
    assert in_range(back) and back != ip


def test_cluster_ip_may_not_change_once_set(cluster: Cluster) -> None:
    ns = namespace(cluster, "svc-immutable")
    cluster.kubectl("create", "service", "clusterip", "fixed", "--tcp=80", "--clusterip=10.43.0.91", "-n", ns)
    result = cluster.kubectl("patch", "service", "fixed", "-n", ns, "-p", '{"spec":{"clusterIP":"10.43.0.92"}}',
                             check=False)
    assert 'spec.clusterIPs[0]: Invalid value: []string{"10.43.0.92"}: may not change once set' in result.stderr
    applied = json.dumps({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "fixed"},
                          "spec": {"ports": [{"port": 80, "name": "80"}], "selector": {"app": "fixed"}}})
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-n", ns, "-f", "-", input=applied)
    assert spec(cluster, ns, "fixed")["clusterIP"] == "10.43.0.91"  # a manifest without it keeps it


def test_many_services_created_at_once_get_distinct_addresses(cluster: Cluster, client: Any,
                                                              api_client: Any) -> None:
    ns = namespace(cluster, "svc-many")
    api = client.CoreV1Api(api_client)

    def create(i: int) -> str:
        body = client.V1Service(metadata=client.V1ObjectMeta(name=f"s{i}"),
                                spec=client.V1ServiceSpec(ports=[client.V1ServicePort(port=80)],
                                                          type="NodePort" if i % 10 == 0 else None))
        created = api.create_namespaced_service(ns, body)
        return str(created.spec.cluster_ip)

    with ThreadPoolExecutor(max_workers=32) as pool:
        ips = list(pool.map(create, range(300)))
    assert len(set(ips)) == 300 and all(in_range(ip) for ip in ips)
    listed = api.list_namespaced_service(ns).items
    assert sorted(s.spec.cluster_ip for s in listed) == sorted(ips)
    node_ports = [s.spec.ports[0].node_port for s in listed if s.spec.type == "NodePort"]
    assert len(node_ports) == 30 and len(set(node_ports)) == 30


def test_the_kubernetes_service_and_its_endpoints(cluster: Cluster) -> None:
    rows = table(cluster, "svc", "kubernetes", "-n", "default")
    assert rows[1][:5] == ["kubernetes", "ClusterIP", "10.43.0.1", "<none>", "443/TCP"]
    service = cluster.kubectl_json("get", "service", "kubernetes", "-n", "default")
    assert service["metadata"]["labels"] == {"component": "apiserver", "provider": "kubernetes"}
    port = int(cluster.url.rsplit(":", 1)[1])
    assert service["spec"]["ports"] == [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}]
    endpoints = cluster.kubectl_json("get", "endpoints", "kubernetes", "-n", "default")
    subset = endpoints["subsets"][0]
    assert subset["ports"] == [{"name": "https", "port": port, "protocol": "TCP"}]
    address = subset["addresses"][0]["ip"]
    assert not ipaddress.ip_address(address).is_loopback  # bound to 127.0.0.1: the host's address is advertised
    assert table(cluster, "endpoints", "kubernetes", "-n", "default")[1][1] == f"{address}:{port}"
    slice_ = cluster.kubectl_json("get", "endpointslice", "kubernetes", "-n", "default")
    assert slice_["endpoints"] == [{"addresses": [address], "conditions": {"ready": True}}]
    assert slice_["metadata"]["labels"]["kubernetes.io/service-name"] == "kubernetes"
    cluster.kubectl("delete", "endpoints", "kubernetes", "-n", "default")
    wait_for(lambda: cluster.kubectl("get", "endpoints", "kubernetes", "-n", "default", check=False).returncode == 0,
             message="the kubernetes Endpoints to come back")


def test_allocations_survive_a_restart(tmp_path: Path) -> None:
    extra = ["--disable-scheduler", "--advertise-address", "192.0.2.77"]
    first = start_server(tmp_path, extra)
    try:
        first.kubectl("create", "service", "clusterip", "kept", "--tcp=80", "--clusterip=10.43.0.60")
        first.kubectl("create", "service", "nodeport", "kept-np", "--tcp=80", "--node-port=30700")
        before = {s["metadata"]["name"]: s["spec"].get("clusterIP")
                  for s in first.kubectl_json("get", "services")["items"]}
    finally:
        stop_server(first)
    second = start_server(tmp_path, extra)
    try:
        after = {s["metadata"]["name"]: s["spec"].get("clusterIP")
                 for s in second.kubectl_json("get", "services")["items"]}
        assert after == before
        refused = second.kubectl("create", "service", "clusterip", "dup", "--tcp=80", "--clusterip=10.43.0.60",
                                 check=False)
        assert "provided IP is already allocated" in refused.stderr
        refused = second.kubectl("create", "service", "nodeport", "dup", "--tcp=80", "--node-port=30700",
                                 check=False)
        assert "provided port is already allocated" in refused.stderr
        for i in range(20):
            second.kubectl("create", "service", "clusterip", f"new{i}", "--tcp=80")
        ips = [s["spec"]["clusterIP"] for s in second.kubectl_json("get", "services")["items"]]
        assert len(ips) == len(set(ips)) == len(before) + 20
        endpoints = second.kubectl_json("get", "endpoints", "kubernetes")
        port = int(second.url.rsplit(":", 1)[1])
        assert endpoints["subsets"][0]["addresses"] == [{"ip": "192.0.2.77"}]
        assert endpoints["subsets"][0]["ports"][0]["port"] == port  # the new port after the restart
    finally:
        stop_server(second)
