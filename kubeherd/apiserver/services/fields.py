"""The Service fields that hang together, worked out as upstream's service registry does.

Pure functions on Service objects (plain dicts), used by the Service strategy before validation:

- `default_service`: upstream's API defaulting (applied to every create and update).
- `normalize_cluster_ips`: keep the old single `clusterIP` and the list `clusterIPs` in step.
- `patch_allocated_values`: an update that leaves out what the server allocated (cluster IPs,
  node ports, the health-check node port) keeps it, so re-sending the same manifest works.
- `drop_type_dependent_fields`: a type change clears what the new type cannot have (and the
  allocator releases), unless the client changed those fields itself.

Field names follow the v1 wire form; "needs" helpers say which values a type is given.
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]

DEFAULT_AFFINITY_TIMEOUT = 10800


def spec_of(svc: Obj) -> Obj:
    spec = svc.get("spec")
    return spec if isinstance(spec, dict) else {}


def service_type(svc: Obj) -> str:
    return str(spec_of(svc).get("type") or "ClusterIP")


def needs_cluster_ip(svc: Obj) -> bool:
    return service_type(svc) != "ExternalName"


def needs_node_port(svc: Obj) -> bool:
    return service_type(svc) in ("NodePort", "LoadBalancer")


def needs_health_check(svc: Obj) -> bool:
    """A LoadBalancer keeping client source IPs needs a health-check node port."""
    return service_type(svc) == "LoadBalancer" and spec_of(svc).get("externalTrafficPolicy") == "Local"


def should_allocate_node_ports(svc: Obj) -> bool:
    kind = service_type(svc)
    if kind == "NodePort":
        return True
    return kind == "LoadBalancer" and spec_of(svc).get("allocateLoadBalancerNodePorts") is not False


def externally_accessible(svc: Obj) -> bool:
    kind = service_type(svc)
    return kind in ("NodePort", "LoadBalancer") or (kind == "ClusterIP" and bool(spec_of(svc).get("externalIPs")))


def cluster_ips(svc: Obj) -> list[str]:
    return [str(ip) for ip in spec_of(svc).get("clusterIPs") or []]


def is_headless(svc: Obj) -> bool:
    ips = cluster_ips(svc)
    return (ips[0] if ips else spec_of(svc).get("clusterIP")) == "None"


def node_ports(svc: Obj) -> list[int]:
    return [p["nodePort"] for p in _ports(svc) if isinstance(p.get("nodePort"), int) and p["nodePort"]]


def _ports(svc: Obj) -> list[Obj]:
    return [p for p in spec_of(svc).get("ports") or [] if isinstance(p, dict)]


def default_service(svc: Obj) -> None:
    """Upstream's SetDefaults_Service."""
    spec = svc.get("spec")
    if not isinstance(spec, dict):
        return
    if not spec.get("sessionAffinity"):
        spec["sessionAffinity"] = "None"
    if spec["sessionAffinity"] == "None":
        spec.pop("sessionAffinityConfig", None)
    elif spec["sessionAffinity"] == "ClientIP":
        config = spec.get("sessionAffinityConfig")
        client_ip = config.get("clientIP") if isinstance(config, dict) else None
        if not isinstance(client_ip, dict) or client_ip.get("timeoutSeconds") is None:
            spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": DEFAULT_AFFINITY_TIMEOUT}}
    if not spec.get("type"):
        spec["type"] = "ClusterIP"
    for port in _ports(svc):
        if not port.get("protocol"):
            port["protocol"] = "TCP"
        if port.get("targetPort") in (None, 0, "") and "port" in port:
            port["targetPort"] = port["port"]
    if externally_accessible(svc) and not spec.get("externalTrafficPolicy"):
        spec["externalTrafficPolicy"] = "Cluster"
    if spec.get("internalTrafficPolicy") is None and spec["type"] in ("ClusterIP", "NodePort", "LoadBalancer"):
        spec["internalTrafficPolicy"] = "Cluster"
    if spec["type"] == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is None:
        spec["allocateLoadBalancerNodePorts"] = True


def normalize_cluster_ips(new: Obj, old: Obj | None) -> None:
    """Fill `clusterIPs` from `clusterIP` for clients that only know the single field."""
    spec = new.get("spec")
    if not isinstance(spec, dict):
        return
    single = str(spec.get("clusterIP") or "")
    plural = cluster_ips(new)
    if old is None:
        if single and not plural:
            spec["clusterIPs"] = [single]
        return
    old_single = str(spec_of(old).get("clusterIP") or "")
    old_plural = cluster_ips(old)
    if old_plural and not plural and old_single == single:
        spec["clusterIPs"] = plural = list(old_plural)  # an old client that knows only clusterIP
    if old_single != single and plural == old_plural:
        if old_single and not single:
            spec.pop("clusterIPs", None)  # clearing clusterIP clears the list with it
        else:
            spec["clusterIPs"] = [single]


def patch_allocated_values(new: Obj, old: Obj) -> None:
    """Keep what the server allocated when an update leaves it out."""
    spec, old_spec = new.get("spec"), spec_of(old)
    if not isinstance(spec, dict):
        return
    if needs_cluster_ip(old) and needs_cluster_ip(new):
        if not spec.get("clusterIP") and old_spec.get("clusterIP"):
            spec["clusterIP"] = old_spec["clusterIP"]
        if not spec.get("clusterIPs") and old_spec.get("clusterIPs"):
            spec["clusterIPs"] = list(old_spec["clusterIPs"])
    if needs_node_port(old) and needs_node_port(new):
        taken = set(node_ports(old)) & set(node_ports(new))
        by_name = {str(p.get("name") or ""): p.get("nodePort") for p in _ports(old)}
        for port in _ports(new):
            if not port.get("nodePort"):
                previous = by_name.get(str(port.get("name") or ""))
                if previous and previous not in taken:
                    port["nodePort"] = previous
    if needs_health_check(old) and needs_health_check(new) and not spec.get("healthCheckNodePort") \
            and old_spec.get("healthCheckNodePort"):
        spec["healthCheckNodePort"] = old_spec["healthCheckNodePort"]


def drop_type_dependent_fields(new: Obj, old: Obj) -> None:
    """Clear what the new type cannot have, when the client left it as it was."""
    spec, old_spec = new.get("spec"), spec_of(old)
    if not isinstance(spec, dict):
        return
    if needs_cluster_ip(old) and not needs_cluster_ip(new):
        if spec.get("clusterIP") == old_spec.get("clusterIP") and cluster_ips(new) == cluster_ips(old):
            spec.pop("clusterIP", None)
            spec.pop("clusterIPs", None)
        if spec.get("ipFamilies") == old_spec.get("ipFamilies"):
            spec.pop("ipFamilies", None)
        if spec.get("ipFamilyPolicy") == old_spec.get("ipFamilyPolicy"):
            spec.pop("ipFamilyPolicy", None)
    if needs_node_port(old) and not needs_node_port(new) and set(node_ports(new)) <= set(node_ports(old)):
        for port in _ports(new):
            port.pop("nodePort", None)
    if needs_health_check(old) and not needs_health_check(new) \
            and spec.get("healthCheckNodePort") == old_spec.get("healthCheckNodePort"):
        spec.pop("healthCheckNodePort", None)
    if service_type(old) == "LoadBalancer" and service_type(new) != "LoadBalancer":
        allocate = spec.get("allocateLoadBalancerNodePorts")
        if allocate is not None and allocate == old_spec.get("allocateLoadBalancerNodePorts"):
            spec.pop("allocateLoadBalancerNodePorts", None)
        if spec.get("loadBalancerClass") == old_spec.get("loadBalancerClass"):
            spec.pop("loadBalancerClass", None)
    if externally_accessible(old) and not externally_accessible(new) \
            and spec.get("externalTrafficPolicy") == old_spec.get("externalTrafficPolicy"):
        spec.pop("externalTrafficPolicy", None)
    if service_type(new) != "LoadBalancer":
        new["status"] = {**(new.get("status") or {}), "loadBalancer": {}}
