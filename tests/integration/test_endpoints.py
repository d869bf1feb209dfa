"""Endpoints and EndpointSlices follow Services and pod readiness, seen through the real kubectl."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration.conftest import Cluster, pod_status_running, wait_for

Obj = dict[str, Any]


def create(cluster: Cluster, namespace: str, *objects: Obj) -> None:
    items = {"apiVersion": "v1", "kind": "List", "items": list(objects)}
    cluster.kubectl("create", "-n", namespace, "-f", "-", input=json.dumps(items), version="1.27")


def namespace(cluster: Cluster, name: str) -> str:
    cluster.kubectl("create", "-f", "-", version="1.27",
                    input=json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
    return name


def service(name: str, selector: Obj | None, ports: list[Obj], **spec: Any) -> Obj:
    body: Obj = {"ports": ports, **spec}
    if selector is not None:
        body["selector"] = selector
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "labels": {"tier": "web"}},
            "spec": body}


def pod(name: str, labels: Obj, ports: list[Obj] | None = None, **spec: Any) -> Obj:
    container: Obj = {"name": "app", "image": "nginx:1.27"}
    if ports:
        container["ports"] = ports
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
            "spec": {"containers": [container], **spec}}


def set_running(cluster: Cluster, namespace: str, name: str, ip: str, ready: bool = True) -> None:
    """Act as the pod's kubelet: report it Running with this IP, ready or not."""
    from kubernetes import client, config

    api = client.CoreV1Api(config.new_client_from_config(str(cluster.kubeconfig)))
    raw = api.api_client.sanitize_for_serialization(api.read_namespaced_pod(name, namespace))
    status = {**pod_status_running(raw, ready), "podIP": ip, "podIPs": [{"ip": ip}]}
    api.patch_namespaced_pod_status(name, namespace, {"status": status}, _content_type="application/merge-patch+json")
    api.api_client.close()


def get(cluster: Cluster, kind: str, name: str, namespace: str) -> Obj | None:
    result = cluster.kubectl("get", kind, name, "-n", namespace, "-o", "json", check=False)
    if result.returncode != 0:
        assert "NotFound" in result.stderr, result.stderr
        return None
    return json.loads(result.stdout)


def subsets(cluster: Cluster, name: str, namespace: str) -> list[Obj] | None:
    endpoints = get(cluster, "endpoints", name, namespace)
    return None if endpoints is None else endpoints.get("subsets", [])


def ips(addresses: list[Obj] | None) -> list[str]:
    return [a["ip"] for a in addresses or []]


def slices(cluster: Cluster, service_name: str, namespace: str) -> list[Obj]:
    return cluster.kubectl_json("get", "endpointslices", "-n", namespace,
                                "-l", f"kubernetes.io/service-name={service_name}")["items"]


def endpoint_conditions(found: list[Obj]) -> dict[str, Obj]:
    """pod name -> its endpoint's conditions, across the slices."""
    return {ep["targetRef"]["name"]: ep["conditions"] for s in found for ep in s["endpoints"]}


@pytest.fixture(scope="module")
def web(cluster: Cluster) -> str:
    """A Service with three pods behind it (one of them not selected)."""
    ns = namespace(cluster, "ep-web")
    create(cluster, ns,
           service("web", {"app": "web"}, [{"name": "http", "port": 80, "targetPort": 8080}],
                   clusterIP="10.43.100.10"),
           pod("web-1", {"app": "web"}), pod("web-2", {"app": "web"}), pod("other", {"app": "other"}))
    return ns


def test_endpoints_follow_pod_readiness(cluster: Cluster, web: str) -> None:
    # pods without an IP are nobody's endpoints yet
    assert wait_for(lambda: subsets(cluster, "web", web) == [], message="empty Endpoints for web")
    set_running(cluster, web, "web-1", "10.42.0.11", ready=True)
    set_running(cluster, web, "web-2", "10.42.0.12", ready=False)
    set_running(cluster, web, "other", "10.42.0.13", ready=True)

    def split() -> tuple[list[str], list[str]] | None:
        found = subsets(cluster, "web", web) or []
        if len(found) != 1:
            return None
        return ips(found[0].get("addresses")), ips(found[0].get("notReadyAddresses"))

    wait_for(lambda: split() == (["10.42.0.11"], ["10.42.0.12"]), message="web-1 ready, web-2 not ready")
    endpoints = get(cluster, "endpoints", "web", web)
    assert endpoints is not None
    subset = endpoints["subsets"][0]
    assert subset["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    ref = subset["addresses"][0]["targetRef"]
    uid = cluster.kubectl_json("get", "pod", "web-1", "-n", web)["metadata"]["uid"]
    assert ref == {"kind": "Pod", "namespace": web, "name": "web-1", "uid": uid}
    assert endpoints["metadata"]["labels"] == {"tier": "web"}  # the Service's labels, not headless
    assert "endpoints.kubernetes.io/last-change-trigger-time" in endpoints["metadata"]["annotations"]

    set_running(cluster, web, "web-2", "10.42.0.12", ready=True)
    wait_for(lambda: split() == (["10.42.0.11", "10.42.0.12"], []), message="both pods ready")
    table = cluster.kubectl("get", "endpoints", "web", "-n", web).stdout
    assert "10.42.0.11:8080,10.42.0.12:8080" in table

    set_running(cluster, web, "web-1", "10.42.0.11", ready=False)
    wait_for(lambda: split() == (["10.42.0.12"], ["10.42.0.11"]), message="web-1 no longer ready")
    cluster.kubectl("delete", "pod", "web-1", "-n", web, "--grace-period=0", "--force")
    wait_for(lambda: split() == (["10.42.0.12"], []), message="deleted pod gone from the endpoints")


def test_endpointslices_mirror_the_endpoints(cluster: Cluster, web: str) -> None:
    set_running(cluster, web, "web-2", "10.42.0.12", ready=True)
    wait_for(lambda: endpoint_conditions(slices(cluster, "web", web)).keys() == {"web-2"},
             message="one endpoint in web's slice")
    [found] = slices(cluster, "web", web)
    svc = cluster.kubectl_json("get", "service", "web", "-n", web)
    assert found["addressType"] == "IPv4"
    assert found["metadata"]["name"].startswith("web-")
    assert found["metadata"]["labels"] == {"tier": "web", "kubernetes.io/service-name": "web",
                                           "endpointslice.kubernetes.io/managed-by":
                                               "endpointslice-controller.k8s.io"}
    assert found["metadata"]["ownerReferences"] == [{"apiVersion": "v1", "kind": "Service", "name": "web",
                                                     "uid": svc["metadata"]["uid"], "controller": True,
                                                     "blockOwnerDeletion": True}]
    assert found["ports"] == [{"name": "http", "protocol": "TCP", "port": 8080}]
    [endpoint] = found["endpoints"]
    assert endpoint["addresses"] == ["10.42.0.12"]
    assert endpoint["conditions"] == {"ready": True, "serving": True, "terminating": False}
    assert endpoint["targetRef"]["name"] == "web-2"

    # readiness changes rewrite the same slice in place
    create(cluster, web, pod("web-3", {"app": "web"}))
    set_running(cluster, web, "web-3", "10.42.0.14", ready=False)
    wait_for(lambda: endpoint_conditions(slices(cluster, "web", web)).get("web-3")
             == {"ready": False, "serving": False, "terminating": False}, message="web-3 listed not ready")
    set_running(cluster, web, "web-2", "10.42.0.12", ready=False)
    wait_for(lambda: endpoint_conditions(slices(cluster, "web", web)).get("web-2", {}).get("ready") is False,
             message="web-2 listed not ready")
    names = [s["metadata"]["name"] for s in slices(cluster, "web", web)]
    assert names == [found["metadata"]["name"]]
    assert "web-" in cluster.kubectl("get", "endpointslices", "-n", web).stdout


def test_named_target_ports_resolve_per_pod(cluster: Cluster) -> None:
    ns = namespace(cluster, "ep-named")
    create(cluster, ns,
           service("api", {"app": "api"}, [{"name": "web", "port": 80, "targetPort": "http-alt"}],
                   clusterIP="10.43.100.20"),
           pod("api-a", {"app": "api"}, [{"name": "http-alt", "containerPort": 8080}]),
           pod("api-b", {"app": "api"}, [{"name": "http-alt", "containerPort": 9090}]),
           pod("api-c", {"app": "api"}, [{"name": "metrics", "containerPort": 9100}]))
    for name, ip in (("api-a", "10.42.1.1"), ("api-b", "10.42.1.2"), ("api-c", "10.42.1.3")):
        set_running(cluster, ns, name, ip)

    def by_port() -> dict[int, list[str]]:
        return {s["ports"][0]["port"]: ips(s.get("addresses")) for s in subsets(cluster, "api", ns) or []}

    # pods that resolve the name to different numbers land in different subsets; api-c has no such port
    wait_for(lambda: by_port() == {8080: ["10.42.1.1"], 9090: ["10.42.1.2"]}, message="two subsets by port")
    # slices group endpoints by their resolved ports too; as upstream, a pod without the port
    # gets a slice with no ports (which proxies ignore)
    def slice_ports() -> list[tuple[list[int], list[str]]]:
        return sorted(([p["port"] for p in s["ports"]], [e["addresses"][0] for e in s["endpoints"]])
                      for s in slices(cluster, "api", ns))

    wait_for(lambda: slice_ports() == [([], ["10.42.1.3"]), ([8080], ["10.42.1.1"]), ([9090], ["10.42.1.2"])],
             message="one slice per resolved port list")


def test_headless_service_publishes_not_ready_pods_with_hostnames(cluster: Cluster) -> None:
    ns = namespace(cluster, "ep-headless")
    create(cluster, ns,
           service("db", {"app": "db"}, [], clusterIP="None", publishNotReadyAddresses=True),
           pod("db-0", {"app": "db"}, hostname="db-0", subdomain="db"))
    set_running(cluster, ns, "db-0", "10.42.2.1", ready=False)
    wait_for(lambda: subsets(cluster, "db", ns), message="db endpoints")
    endpoints = get(cluster, "endpoints", "db", ns)
    assert endpoints is not None
    [subset] = endpoints["subsets"]
    assert "ports" not in subset and "notReadyAddresses" not in subset  # published although not ready
    assert subset["addresses"][0]["ip"] == "10.42.2.1"
    assert subset["addresses"][0]["hostname"] == "db-0"
    assert endpoints["metadata"]["labels"]["service.kubernetes.io/headless"] == ""
    wait_for(lambda: slices(cluster, "db", ns) and slices(cluster, "db", ns)[0]["endpoints"], message="db slice")
    [found] = slices(cluster, "db", ns)
    assert found["metadata"]["labels"]["service.kubernetes.io/headless"] == ""
    [endpoint] = found["endpoints"]
    assert endpoint["hostname"] == "db-0"
    assert endpoint["conditions"] == {"ready": True, "serving": False, "terminating": False}


def test_manual_endpoints_of_a_selectorless_service_are_left_alone(cluster: Cluster) -> None:
    ns = namespace(cluster, "ep-manual")
    manual = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "external"},
              "subsets": [{"addresses": [{"ip": "192.0.2.10"}], "ports": [{"name": "pg", "port": 5432}]}]}
    create(cluster, ns, service("external", None, [{"name": "pg", "port": 5432}], clusterIP="10.43.100.30"), manual)
    before = get(cluster, "endpoints", "external", ns)
    assert before is not None
    # make the controller look at the Service, then wait until it has handled a later one
    cluster.kubectl("label", "service", "external", "-n", ns, "touched=yes")
    create(cluster, ns, service("probe", {"app": "probe"}, [{"port": 80}], clusterIP="10.43.100.31"))
    wait_for(lambda: get(cluster, "endpoints", "probe", ns), message="endpoints of the probe service")
    after = get(cluster, "endpoints", "external", ns)
    assert after is not None
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert after["subsets"] == manual["subsets"]
    assert slices(cluster, "external", ns) == []  # nor does it get slices

    # when the Service goes, its Endpoints go with it
    cluster.kubectl("delete", "service", "external", "-n", ns)
    wait_for(lambda: get(cluster, "endpoints", "external", ns) is None, message="endpoints of a deleted service")


def test_endpoints_and_slices_go_with_their_service(cluster: Cluster) -> None:
    ns = namespace(cluster, "ep-gone")
    create(cluster, ns, service("gone", {"app": "gone"}, [{"port": 80}], clusterIP="10.43.100.40"),
           pod("gone-1", {"app": "gone"}))
    set_running(cluster, ns, "gone-1", "10.42.3.1")
    wait_for(lambda: subsets(cluster, "gone", ns), message="endpoints of gone")
    wait_for(lambda: slices(cluster, "gone", ns), message="slices of gone")
    cluster.kubectl("delete", "service", "gone", "-n", ns)
    wait_for(lambda: get(cluster, "endpoints", "gone", ns) is None and not slices(cluster, "gone", ns),
             message="endpoints and slices deleted")


def test_more_than_a_hundred_endpoints_fill_several_slices(cluster: Cluster) -> None:
    from kubernetes import client, config

    ns = namespace(cluster, "ep-many")
    count = 130
    create(cluster, ns, service("many", {"app": "many"}, [{"port": 80}], clusterIP="10.43.100.50"),
           *(pod(f"many-{i}", {"app": "many"}) for i in range(count)))
    api = client.CoreV1Api(config.new_client_from_config(str(cluster.kubeconfig)))
    for item in api.list_namespaced_pod(ns).items:
        raw = api.api_client.sanitize_for_serialization(item)
        ip = f"10.42.4.{int(item.metadata.name.split('-')[1]) + 1}"
        api.patch_namespaced_pod_status(item.metadata.name, ns,
                                        {"status": {**pod_status_running(raw), "podIP": ip, "podIPs": [{"ip": ip}]}},
                                        _content_type="application/merge-patch+json")
    api.api_client.close()
    wait_for(lambda: sum(len(s["endpoints"]) for s in slices(cluster, "many", ns)) == count,
             message=f"{count} endpoints in slices")
    sizes = sorted(len(s["endpoints"]) for s in slices(cluster, "many", ns))
    assert sizes == [30, 100]
    wait_for(lambda: len(ips((subsets(cluster, "many", ns) or [{}])[0].get("addresses"))) == count,
             message=f"{count} ready addresses")
