"""Core-group kinds other than Pod: Service, ConfigMap, Secret, Namespace, Node,
PersistentVolume(Claim), ReplicationController, ServiceAccount.

As for pods, fields upstream defaults are accepted when absent.  Services are
validated after the registry's clusterIP bookkeeping: ``clusterIPs`` is derived from
``clusterIP`` when only that is given, and an update that omits the address keeps
the old one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from kubeherd.api.validation._obj import data_size, decoded, integer, is_int, mapping, quantity, seq, string
from kubeherd.api.validation.field import (
    FIELD_IMMUTABLE,
    Cause,
    GoRaw,
    child,
    duplicate,
    forbidden,
    go_quote,
    go_string_map,
    index,
    invalid,
    key,
    not_supported,
    required,
    too_long,
)
from kubeherd.api.validation.meta import (
    validate_finalizer_name,
    validate_immutable,
    validate_label_name,
    validate_label_selector,
    validate_labels,
    validate_nonnegative,
    validate_object_meta,
    validate_object_meta_update,
)
from kubeherd.api.validation.names import (
    DNS1035_LABEL,
    DNS1123_LABEL,
    DNS1123_SUBDOMAIN,
    is_config_map_key,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_qualified_name,
    is_valid_cidr,
    is_valid_ip,
    is_valid_label_value,
    is_valid_port_name,
    is_valid_port_num,
)
from kubeherd.api.validation.pods import semantic_equal, spec_diff, validate_pod_template_spec

MAX_SECRET_SIZE = 1024 * 1024
_PROTOCOLS = ["SCTP", "TCP", "UDP"]
_SERVICE_TYPES = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]
_ACCESS_MODES = ["ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"]
_RECLAIM_POLICIES = ["Delete", "Recycle", "Retain"]
_VOLUME_MODES = ["Block", "Filesystem"]
_TAINT_EFFECTS = ["NoSchedule", "PreferNoSchedule", "NoExecute"]


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return mapping(obj.get("metadata"))


def _meta_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    return validate_object_meta_update(new.get("metadata"), old.get("metadata"))


# Service -------------------------------------------------------------------------------


def _cluster_ips(spec: Mapping[str, Any]) -> list[str]:
    ips = [str(ip) for ip in seq(spec.get("clusterIPs"))]
    cluster_ip = string(spec.get("clusterIP"))
    if not ips and cluster_ip:
        ips = [cluster_ip]
    return ips


def _is_headless(spec: Mapping[str, Any]) -> bool:
    return _cluster_ips(spec) == ["None"]


def _go_service_port(protocol: str, port: Any) -> GoRaw:
    return GoRaw(
        f'core.ServicePort{{Name:"", Protocol:{go_quote(protocol)}, AppProtocol:(*string)(nil), Port:{port}, '
        'TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}'
    )


def _service_port(port: Mapping[str, Any], require_name: bool, names: set[str], path: str) -> list[Cause]:
    errs: list[Cause] = []
    name = string(port.get("name"))
    if require_name and not name:
        errs.append(required(child(path, "name")))
    elif name:
        errs.extend(invalid(child(path, "name"), name, m) for m in is_dns1123_label(name))
        if name in names:
            errs.append(duplicate(child(path, "name"), name))
        else:
            names.add(name)
    number = integer(port, "port", child(path, "port"), errs, 0) or 0
    errs.extend(invalid(child(path, "port"), number, m) for m in is_valid_port_num(number))
    protocol = port.get("protocol")
    if protocol and protocol not in _PROTOCOLS:
        errs.append(not_supported(child(path, "protocol"), protocol, _PROTOCOLS))
    target = port.get("targetPort")
    if is_int(target):
        errs.extend(invalid(child(path, "targetPort"), target, m) for m in is_valid_port_num(target))
    elif isinstance(target, str):
        errs.extend(invalid(child(path, "targetPort"), target, m) for m in is_valid_port_name(target))
    app_protocol = port.get("appProtocol")
    if isinstance(app_protocol, str):
        errs.extend(
            invalid(child(path, "appProtocol"), app_protocol, m) for m in is_qualified_name(app_protocol)
        )
    return errs


def _cluster_ips_related(spec: Mapping[str, Any], svc_type: str) -> list[Cause]:
    if svc_type == "ExternalName":
        return []
    errs: list[Cause] = []
    path = "spec.clusterIPs"
    cluster_ip = string(spec.get("clusterIP")) or (_cluster_ips(spec)[:1] or [""])[0]
    ips = _cluster_ips(spec)
    if cluster_ip and ips and ips[0] != cluster_ip:
        errs.append(invalid(path, ips, "first value must match `clusterIP`"))
    for i, fam in enumerate(seq(spec.get("ipFamilies"))):
        if fam not in ("IPv4", "IPv6"):
            errs.append(not_supported(index("spec.ipFamilies", i), fam, ["IPv4", "IPv6"]))
        if fam in seq(spec.get("ipFamilies"))[:i]:
            errs.append(duplicate(index("spec.ipFamilies", i), fam))
    policy = spec.get("ipFamilyPolicy")
    if policy is not None and policy not in ("PreferDualStack", "RequireDualStack", "SingleStack"):
        errs.append(
            not_supported(
                "spec.ipFamilyPolicy", policy, ["PreferDualStack", "RequireDualStack", "SingleStack"]
            )
        )
    bad_ip = False
    for i, ip in enumerate(ips):
        if i == 0 and ip == "None":
            if len(ips) > 1:
                bad_ip = True
                errs.append(invalid(path, ips, "'None' must be the first and only value"))
            continue
        msgs = is_valid_ip(ip)
        bad_ip = bad_ip or bool(msgs)
        errs.extend(invalid(index(path, i), ip, m) for m in msgs)
    if len(ips) > 2:
        errs.append(invalid(path, ips, "may only hold up to 2 values"))
    if not bad_ip and len(ips) == 2 and (":" in ips[0]) == (":" in ips[1]):
        errs.append(invalid(path, ips, "may specify no more than one IP for each IP family"))
    return errs


def validate_service(svc: Mapping[str, Any]) -> list[Cause]:
    """Upstream ``ValidateService`` for the commonly used fields."""
    errs = validate_object_meta(svc.get("metadata"), True, DNS1035_LABEL)
    spec = mapping(svc.get("spec"))
    svc_type = spec.get("type") or "ClusterIP"
    ports = [mapping(p) for p in seq(spec.get("ports"))]
    headless = _is_headless(spec)
    if not ports and not headless and svc_type != "ExternalName":
        errs.append(required("spec.ports"))
    if svc_type in ("LoadBalancer", "NodePort") and headless:
        errs.append(
            invalid(index("spec.clusterIPs", 0), "None", f"may not be set to 'None' for {svc_type} services")
        )
    elif svc_type == "ExternalName":
        if _cluster_ips(spec):
            errs.append(forbidden("spec.clusterIPs", "may not be set for ExternalName services"))
        if seq(spec.get("ipFamilies")):
            errs.append(forbidden("spec.ipFamilies", "may not be set for ExternalName services"))
        if spec.get("ipFamilyPolicy") is not None:
            errs.append(forbidden("spec.ipFamilyPolicy", "may not be set for ExternalName services"))
        cname = string(spec.get("externalName")).removesuffix(".")
        if cname:
            errs.extend(invalid("spec.externalName", cname, m) for m in is_dns1123_subdomain(cname))
        else:
            errs.append(required("spec.externalName"))
    names: set[str] = set()
    for i, port in enumerate(ports):
        errs.extend(_service_port(port, len(ports) > 1, names, index("spec.ports", i)))
    if spec.get("selector") is not None:
        errs.extend(validate_labels(spec.get("selector"), "spec.selector"))
    affinity = spec.get("sessionAffinity")
    if affinity and affinity not in ("ClientIP", "None"):
        errs.append(not_supported("spec.sessionAffinity", affinity, ["ClientIP", "None"]))
    config = spec.get("sessionAffinityConfig")
    if affinity in (None, "None") and config is not None:
        errs.append(forbidden("spec.sessionAffinityConfig", "must not be set when session affinity is None"))
    elif affinity == "ClientIP" and config is not None:
        timeout = mapping(mapping(config).get("clientIP")).get("timeoutSeconds")
        if is_int(timeout) and not 0 < timeout <= 86400:
            errs.append(
                invalid(
                    "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
                    timeout,
                    "must be greater than 0 and less than 86400",
                )
            )
    errs.extend(_cluster_ips_related(spec, str(svc_type)))
    for i, ip in enumerate(seq(spec.get("externalIPs"))):
        errs.extend(invalid(index("spec.externalIPs", i), ip, m) for m in is_valid_ip(str(ip)))
    if svc_type not in _SERVICE_TYPES:
        errs.append(not_supported("spec.type", svc_type, _SERVICE_TYPES))
    if svc_type == "ClusterIP":
        for i, port in enumerate(ports):
            if port.get("nodePort"):
                errs.append(
                    forbidden(
                        child(index("spec.ports", i), "nodePort"),
                        "may not be used when `type` is 'ClusterIP'",
                    )
                )
    node_ports: set[tuple[str, Any]] = set()
    for i, port in enumerate(ports):
        node_port = port.get("nodePort")
        if not node_port:
            continue
        entry = (string(port.get("protocol")) or "TCP", node_port)
        if entry in node_ports:
            errs.append(duplicate(child(index("spec.ports", i), "nodePort"), node_port))
        node_ports.add(entry)
    seen: set[tuple[str, Any]] = set()
    for i, port in enumerate(ports):
        protocol = string(port.get("protocol")) or "TCP"
        entry = (protocol, port.get("port") or 0)
        if entry in seen:
            errs.append(duplicate(index("spec.ports", i), _go_service_port(protocol, port.get("port") or 0)))
        seen.add(entry)
    ranges = seq(spec.get("loadBalancerSourceRanges"))
    if ranges:
        if svc_type != "LoadBalancer":
            errs.append(
                forbidden("spec.LoadBalancerSourceRanges", "may only be used when `type` is 'LoadBalancer'")
            )
        for i, cidr in enumerate(ranges):
            value = str(cidr).strip()
            errs.extend(
                invalid(index("spec.LoadBalancerSourceRanges", i), value, m) for m in is_valid_cidr(value)
            )
    if spec.get("allocateLoadBalancerNodePorts") is not None and svc_type != "LoadBalancer":
        errs.append(
            forbidden("spec.allocateLoadBalancerNodePorts", "may only be used when `type` is 'LoadBalancer'")
        )
    external = svc_type in ("LoadBalancer", "NodePort") or (
        svc_type == "ClusterIP" and bool(seq(spec.get("externalIPs")))
    )
    etp = spec.get("externalTrafficPolicy")
    if not external and etp:
        errs.append(
            invalid("spec.externalTrafficPolicy", etp, "may only be set for externally-accessible services")
        )
    elif external and etp and etp not in ("Cluster", "Local"):
        errs.append(not_supported("spec.externalTrafficPolicy", etp, ["Cluster", "Local"]))
    health = spec.get("healthCheckNodePort")
    if health and not (svc_type == "LoadBalancer" and etp == "Local"):
        errs.append(invalid("spec.healthCheckNodePort", health,
                            "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"))
    elif health:
        errs.extend(invalid("spec.healthCheckNodePort", health, m) for m in is_valid_port_num(health))
    itp = spec.get("internalTrafficPolicy")
    if itp is not None and itp not in ("Cluster", "Local"):
        errs.append(not_supported("spec.internalTrafficPolicy", itp, ["Cluster", "Local"]))
    return errs


def validate_service_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    """Cluster IPs may not change once allocated (except to/from ExternalName)."""
    errs = _meta_update(new, old)
    new_spec, old_spec = mapping(new.get("spec")), mapping(old.get("spec"))
    types = {new_spec.get("type") or "ClusterIP", old_spec.get("type") or "ClusterIP"}
    if "ExternalName" not in types and not (_is_headless(new_spec) and _is_headless(old_spec)):
        old_ips = _cluster_ips(old_spec)
        new_ips = _cluster_ips(new_spec) or old_ips  # an omitted address keeps the allocated one
        if len(old_ips) == len(new_ips):
            for i, ip in enumerate(old_ips):
                if ip != new_ips[i]:
                    errs.append(invalid(index("spec.clusterIPs", i), new_ips, "may not change once set"))
        elif len(old_ips) > len(new_ips):
            if new_ips and new_ips[0] != old_ips[0]:
                errs.append(invalid(index("spec.clusterIPs", 0), new_ips, "may not change once set"))
            if len(new_ips) == 1 and new_spec.get("ipFamilyPolicy") != "SingleStack":
                errs.append(
                    invalid(
                        "spec.ipFamilyPolicy",
                        new_spec.get("ipFamilyPolicy"),
                        "must be set to 'SingleStack' when releasing the secondary clusterIP",
                    )
                )
        elif old_ips and new_ips[0] != old_ips[0]:
            errs.append(invalid(index("spec.clusterIPs", 0), new_ips, "may not change once set"))
        if new_spec.get("clusterIP") is None and not seq(new_spec.get("clusterIPs")):
            new = {
                **new,
                "spec": {
                    **new_spec,
                    "clusterIP": old_spec.get("clusterIP"),
                    "clusterIPs": old_spec.get("clusterIPs"),
                },
            }
    errs.extend(validate_service(new))
    return errs


# ConfigMap and Secret ---------------------------------------------------------------------


def validate_config_map(cm: Mapping[str, Any]) -> list[Cause]:
    errs = validate_object_meta(cm.get("metadata"), True, DNS1123_SUBDOMAIN)
    data, binary = mapping(cm.get("data")), mapping(cm.get("binaryData"))
    total = 0
    for k, v in data.items():
        errs.extend(invalid(key("data", k), k, m) for m in is_config_map_key(k))
        if k in binary:
            errs.append(invalid(key("data", k), k, "duplicate of key present in binaryData"))
        total += len(str(v).encode()) if v is not None else 0
    for k, v in binary.items():
        errs.extend(invalid(key("binaryData", k), k, m) for m in is_config_map_key(k))
        total += data_size(v)
    if total > MAX_SECRET_SIZE:
        # upstream reports the whole object with an empty field path
        errs.append(too_long("", MAX_SECRET_SIZE))
    return errs


_IMMUTABLE_WHEN_SET = "field is immutable when `immutable` is set"


def validate_config_map_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    errs = _meta_update(new, old)
    if old.get("immutable") is True:
        if new.get("immutable") is not True:
            errs.append(forbidden("immutable", _IMMUTABLE_WHEN_SET))
        for fld in ("data", "binaryData"):
            if dict(mapping(new.get(fld))) != dict(mapping(old.get(fld))):
                errs.append(forbidden(fld, _IMMUTABLE_WHEN_SET))
    errs.extend(validate_config_map(new))
    return errs


def _secret_data(secret: Mapping[str, Any]) -> dict[str, bytes]:
    """``data`` decoded, with ``stringData`` merged over it as conversion does."""
    out = {str(k): decoded(v) for k, v in mapping(secret.get("data")).items()}
    for k, v in mapping(secret.get("stringData")).items():
        out[str(k)] = str(v).encode()
    return out


def _json_error(raw: bytes) -> str | None:
    try:
        parsed = json.loads(raw.decode("utf-8", "replace")) if raw.strip() else None
    except ValueError:
        first = raw.strip()[:1].decode("utf-8", "replace") or " "
        return f"invalid character '{first}' looking for beginning of value"
    if parsed is None and not raw.strip():
        return "unexpected end of JSON input"
    if not isinstance(parsed, dict) and parsed is not None:
        return "json: cannot unmarshal into Go value of type map[string]interface {}"
    return None


def validate_secret(secret: Mapping[str, Any]) -> list[Cause]:
    errs = validate_object_meta(secret.get("metadata"), True, DNS1123_SUBDOMAIN)
    data = _secret_data(secret)
    for k in data:
        errs.extend(invalid(key("data", k), k, m) for m in is_config_map_key(k))
    if sum(len(v) for v in data.values()) > MAX_SECRET_SIZE:
        errs.append(too_long("data", MAX_SECRET_SIZE))
    secret_type = string(secret.get("type"))
    annotations = mapping(_meta(secret).get("annotations"))
    if secret_type == "kubernetes.io/service-account-token":
        if not annotations.get("kubernetes.io/service-account.name"):
            errs.append(required(key("metadata.annotations", "kubernetes.io/service-account.name")))
    elif secret_type in ("kubernetes.io/dockercfg", "kubernetes.io/dockerconfigjson"):
        data_key = ".dockercfg" if secret_type == "kubernetes.io/dockercfg" else ".dockerconfigjson"
        if data_key not in data:
            errs.append(required(key("data", data_key)))
        else:
            problem = _json_error(data[data_key])
            if problem:
                errs.append(invalid(key("data", data_key), "<secret contents redacted>", problem))
    elif secret_type == "kubernetes.io/basic-auth":
        if "username" not in data and "password" not in data:
            errs.append(required(key("data", "username")))
            errs.append(required(key("data", "password")))
    elif secret_type == "kubernetes.io/ssh-auth":
        if not data.get("ssh-privatekey"):
            errs.append(required(key("data", "ssh-privatekey")))
    elif secret_type == "kubernetes.io/tls":
        for data_key in ("tls.crt", "tls.key"):
            if data_key not in data:
                errs.append(required(key("data", data_key)))
    return errs


def validate_secret_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    errs = _meta_update(new, old)
    errs.extend(
        validate_immutable(string(new.get("type")) or "Opaque", string(old.get("type")) or "Opaque", "type")
    )
    if old.get("immutable") is True:
        if new.get("immutable") is not True:
            errs.append(forbidden("immutable", _IMMUTABLE_WHEN_SET))
        if _secret_data(new) != _secret_data(old):
            errs.append(forbidden("data", _IMMUTABLE_WHEN_SET))
    errs.extend(validate_secret(new))
    return errs


# Namespace, Node, ServiceAccount -------------------------------------------------------------


def validate_namespace(ns: Mapping[str, Any]) -> list[Cause]:
    errs = validate_object_meta(ns.get("metadata"), False, DNS1123_LABEL)
    for f in seq(mapping(ns.get("spec")).get("finalizers")):
        name = str(f)
        errs.extend(validate_finalizer_name(name, "spec.finalizers"))
        if "/" not in name and name not in ("kubernetes", "orphan", "foregroundDeletion"):
            errs.append(
                invalid(
                    "spec.finalizers",
                    name,
                    "name is neither a standard finalizer name nor is it fully qualified",
                )
            )
    return errs


def validate_namespace_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    return _meta_update(new, old)


def _node_taints(taints: list[Any], path: str) -> list[Cause]:
    errs: list[Cause] = []
    seen: set[tuple[str, str]] = set()
    for i, raw in enumerate(taints):
        taint = mapping(raw)
        tpath = index(path, i)
        tkey, value, effect = (
            string(taint.get("key")),
            string(taint.get("value")),
            string(taint.get("effect")),
        )
        errs.extend(validate_label_name(tkey, child(tpath, "key")))
        msgs = is_valid_label_value(value)
        if msgs:
            errs.append(invalid(child(tpath, "value"), value, ";".join(msgs)))
        if not effect:
            errs.append(required(child(tpath, "effect")))
        elif effect not in _TAINT_EFFECTS:
            errs.append(not_supported(child(tpath, "effect"), effect, _TAINT_EFFECTS))
        if (effect, tkey) in seen:
            dup = duplicate(
                tpath,
                GoRaw(
                    f"core.Taint{{Key:{go_quote(tkey)}, Value:{go_quote(value)}, Effect:{go_quote(effect)}, TimeAdded:<nil>}}"
                ),
            )
            errs.append(
                Cause(dup.type, dup.message + ": taints must be unique by key and effect pair", dup.field)
            )
            continue
        seen.add((effect, tkey))
    return errs


def _node_resources(node: Mapping[str, Any]) -> list[Cause]:
    errs: list[Cause] = []
    status = mapping(node.get("status"))
    for section in ("capacity", "allocatable"):
        for name, raw in mapping(status.get(section)).items():
            rpath = child("status", section, name)
            q = quantity(raw, rpath, errs)
            if q is not None and q.sign() < 0:
                errs.append(invalid(rpath, str(q), "must be greater than or equal to 0"))
    return errs


def validate_node(node: Mapping[str, Any]) -> list[Cause]:
    errs = validate_object_meta(node.get("metadata"), False, DNS1123_SUBDOMAIN)
    spec = mapping(node.get("spec"))
    # upstream validates taints under the metadata path (sic)
    errs.extend(_node_taints(seq(spec.get("taints")), "metadata.taints"))
    errs.extend(_node_resources(node))
    cidrs = [str(c) for c in seq(spec.get("podCIDRs"))]
    for i, cidr in enumerate(cidrs):
        errs.extend(invalid(index("spec.podCIDRs", i), cidr, m) for m in is_valid_cidr(cidr))
    for i, cidr in enumerate(cidrs):
        if cidr in cidrs[:i]:
            errs.append(duplicate(index("spec.podCIDRs", i), cidr))
    return errs


def validate_node_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    errs = _meta_update(new, old)
    errs.extend(_node_resources(new))
    new_spec, old_spec = mapping(new.get("spec")), mapping(old.get("spec"))
    old_cidrs, new_cidrs = seq(old_spec.get("podCIDRs")), seq(new_spec.get("podCIDRs"))
    if old_cidrs and old_cidrs != new_cidrs:
        errs.append(forbidden("spec.podCIDRs", 'node updates may not change podCIDR except from "" to valid'))
    old_provider = string(old_spec.get("providerID"))
    if old_provider and old_provider != string(new_spec.get("providerID")):
        errs.append(
            forbidden("spec.providerID", 'node updates may not change providerID except from "" to valid')
        )
    errs.extend(_node_taints(seq(new_spec.get("taints")), "metadata.taints"))
    return errs


def validate_service_account(sa: Mapping[str, Any]) -> list[Cause]:
    return validate_object_meta(sa.get("metadata"), True, DNS1123_SUBDOMAIN)


# Persistent volumes -----------------------------------------------------------------------------

_PV_SOURCES = [
    "hostPath",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "glusterfs",
    "flocker",
    "nfs",
    "rbd",
    "quobyte",
    "cephfs",
    "iscsi",
    "cinder",
    "fc",
    "flexVolume",
    "azureFile",
    "vsphereVolume",
    "photonPersistentDisk",
    "portworxVolume",
    "azureDisk",
    "scaleIO",
    "local",
    "storageos",
    "csi",
]
_PV_FORBIDDEN_NAMES = {"cephfs": "cephFS"}


def _access_modes(modes: list[Any], path: str, required_detail: str) -> list[Cause]:
    errs: list[Cause] = []
    if not modes:
        errs.append(required(path, required_detail))
    rwop = other = False
    for mode in modes:
        if mode not in _ACCESS_MODES:
            errs.append(not_supported(path, mode, _ACCESS_MODES))
        elif mode == "ReadWriteOncePod":
            rwop = True
        else:
            other = True
    if rwop and other:
        errs.append(forbidden(path, "may not use ReadWriteOncePod with other access modes"))
    return errs


def validate_persistent_volume(pv: Mapping[str, Any]) -> list[Cause]:
    errs = validate_object_meta(pv.get("metadata"), False, DNS1123_SUBDOMAIN)
    spec = mapping(pv.get("spec"))
    errs.extend(_access_modes(seq(spec.get("accessModes")), "spec.accessModes", ""))
    capacity = mapping(spec.get("capacity"))
    if not capacity:
        errs.append(required("spec.capacity"))
    if "storage" not in capacity or len(capacity) > 1:
        rendered = GoRaw(
            "core.ResourceList{"
            + ", ".join(f"{go_quote(k)}:{go_quote(str(v))}" for k, v in sorted(capacity.items()))
            + "}"
        )
        errs.append(not_supported("spec.capacity", rendered, ["storage"]))
    for name, raw in capacity.items():
        cpath = key("spec.capacity", name)
        q = quantity(raw, cpath, errs)
        if q is not None and q.sign() <= 0:
            errs.append(invalid(cpath, str(q), "must be greater than zero"))
    policy = spec.get("persistentVolumeReclaimPolicy")
    if policy and policy not in _RECLAIM_POLICIES:
        errs.append(not_supported("spec.persistentVolumeReclaimPolicy", policy, _RECLAIM_POLICIES))
    count = 0
    for src in _PV_SOURCES:
        if spec.get(src) is None:
            continue
        if count > 0 and src != "flexVolume":
            errs.append(
                forbidden(
                    child("spec", _PV_FORBIDDEN_NAMES.get(src, src)),
                    "may not specify more than 1 volume type",
                )
            )
            continue
        count += 1
        source = mapping(spec.get(src))
        if src in ("hostPath", "local") and not string(source.get("path")):
            errs.append(required(child("spec", src, "path")))
        if src == "local" and spec.get("nodeAffinity") is None:
            errs.append(required("spec.nodeAffinity", "Local volume requires node affinity"))
        if src == "nfs":
            for fld in ("server", "path"):
                if not string(source.get(fld)):
                    errs.append(required(child("spec.nfs", fld)))
        if src == "csi":
            if not string(source.get("driver")):
                errs.append(required("spec.csi.driver"))
            if not string(source.get("volumeHandle")):
                errs.append(required("spec.csi.volumeHandle"))
    if count == 0:
        errs.append(required("spec", "must specify a volume type"))
    class_name = string(spec.get("storageClassName"))
    if class_name:
        errs.extend(invalid("spec.storageClassName", class_name, m) for m in is_dns1123_subdomain(class_name))
    mode = spec.get("volumeMode")
    if mode is not None and mode not in _VOLUME_MODES:
        errs.append(not_supported("spec.volumeMode", mode, _VOLUME_MODES))
    return errs


def _pv_source(spec: Mapping[str, Any]) -> dict[str, Any]:
    return {k: spec[k] for k in _PV_SOURCES if spec.get(k) is not None}


def validate_persistent_volume_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    errs = validate_persistent_volume(new)
    new_spec, old_spec = mapping(new.get("spec")), mapping(old.get("spec"))
    if not semantic_equal(_pv_source(new_spec), _pv_source(old_spec)):
        diff = spec_diff(_pv_source(old_spec), _pv_source(new_spec), "core.PersistentVolumeSource")
        errs.append(
            forbidden(
                "spec.persistentvolumesource",
                "spec.persistentvolumesource is immutable after creation\n" + diff,
            )
        )
    errs.extend(validate_immutable(new_spec.get("volumeMode"), old_spec.get("volumeMode"), "volumeMode"))
    return errs


def validate_persistent_volume_claim(pvc: Mapping[str, Any]) -> list[Cause]:
    errs = validate_object_meta(pvc.get("metadata"), True, DNS1123_SUBDOMAIN)
    spec = mapping(pvc.get("spec"))
    modes = seq(spec.get("accessModes"))
    if not modes:
        errs.append(required("spec.accessModes", "at least 1 access mode is required"))
    if spec.get("selector") is not None:
        errs.extend(validate_label_selector(spec.get("selector"), "spec.selector"))
    if modes:
        errs.extend(_access_modes(modes, "spec.accessModes", ""))
    storage_path = key("spec.resources", "storage")
    requests = mapping(mapping(spec.get("resources")).get("requests"))
    if "storage" not in requests:
        errs.append(required(storage_path))
    else:
        q = quantity(requests["storage"], storage_path, errs)
        if q is not None and q.sign() <= 0:
            errs.append(invalid(storage_path, str(q), "must be greater than zero"))
    class_name = string(spec.get("storageClassName"))
    if class_name:
        errs.extend(invalid("spec.storageClassName", class_name, m) for m in is_dns1123_subdomain(class_name))
    mode = spec.get("volumeMode")
    if mode is not None and mode not in _VOLUME_MODES:
        errs.append(not_supported("spec.volumeMode", mode, _VOLUME_MODES))
    return errs


def validate_persistent_volume_claim_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    """Claims are immutable except ``volumeName`` (once) and, when bound, storage size."""
    errs = _meta_update(new, old)
    errs.extend(validate_persistent_volume_claim(new))
    new_spec, old_spec = dict(mapping(new.get("spec"))), dict(mapping(old.get("spec")))
    if not string(old_spec.get("volumeName")):
        old_spec["volumeName"] = new_spec.get("volumeName")
    bound = mapping(new.get("status")).get("phase") == "Bound"
    new_clone = json.loads(json.dumps(new_spec, default=str))
    if bound:
        requests = mapping(mapping(new_clone.get("resources")).get("requests"))
        if requests:
            old_storage = mapping(mapping(old_spec.get("resources")).get("requests")).get("storage")
            new_clone.setdefault("resources", {}).setdefault("requests", {})["storage"] = old_storage
            if old_storage is None:
                new_clone["resources"]["requests"].pop("storage")
    if not semantic_equal(old_spec, new_clone):
        diff = spec_diff(old_spec, new_clone, "core.PersistentVolumeClaimSpec")
        errs.append(
            forbidden(
                "spec",
                "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims\n"
                + diff,
            )
        )
    sink: list[Cause] = []
    old_size = quantity(
        mapping(mapping(old_spec.get("resources")).get("requests")).get("storage", "0"), "", sink
    )
    new_size = quantity(
        mapping(mapping(new_spec.get("resources")).get("requests")).get("storage", "0"), "", sink
    )
    status_size = quantity(mapping(mapping(old.get("status")).get("capacity")).get("storage", "0"), "", sink)
    if (
        old_size is not None
        and new_size is not None
        and status_size is not None
        and new_size < old_size
        and new_size <= status_size
    ):
        errs.append(
            forbidden("spec.resources.requests.storage", "field can not be less than status.capacity")
        )
    errs.extend(
        validate_immutable(
            new_spec.get("volumeMode"), mapping(old.get("spec")).get("volumeMode"), "volumeMode"
        )
    )
    return errs


# ReplicationController ----------------------------------------------------------------------------


def _rc_selector(spec: Mapping[str, Any]) -> dict[str, str]:
    selector = {str(k): str(v) for k, v in mapping(spec.get("selector")).items()}
    if not selector:
        # upstream defaults an empty selector to the template's labels
        selector = {
            str(k): str(v)
            for k, v in mapping(mapping(mapping(spec.get("template")).get("metadata")).get("labels")).items()
        }
    return selector


def _validate_rc_spec(spec: Mapping[str, Any]) -> list[Cause]:
    errs: list[Cause] = []
    errs.extend(validate_nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds"))
    selector = _rc_selector(spec)
    if not selector:
        errs.append(required("spec.selector"))
    errs.extend(validate_nonnegative(integer(spec, "replicas", "spec.replicas", errs, 1), "spec.replicas"))
    template = spec.get("template")
    if template is None:
        errs.append(required("spec.template"))
        return errs
    tmpl = mapping(template)
    labels = mapping(mapping(tmpl.get("metadata")).get("labels"))
    if selector and any(labels.get(k) != v for k, v in selector.items()):
        raw = mapping(tmpl.get("metadata")).get("labels")
        errs.append(
            invalid(
                "spec.template.metadata.labels",
                GoRaw(go_string_map(None if raw is None else {str(k): str(v) for k, v in labels.items()})),
                "`selector` does not match template `labels`",
            )
        )
    errs.extend(validate_pod_template_spec(tmpl, "spec.template"))
    tspec = mapping(tmpl.get("spec"))
    restart = tspec.get("restartPolicy") or "Always"
    if restart != "Always":
        errs.append(not_supported("spec.template.spec.restartPolicy", restart, ["Always"]))
    if tspec.get("activeDeadlineSeconds") is not None:
        errs.append(
            forbidden(
                "spec.template.spec.activeDeadlineSeconds",
                "activeDeadlineSeconds in ReplicationController is not Supported",
            )
        )
    return errs


def validate_replication_controller(rc: Mapping[str, Any]) -> list[Cause]:
    errs = validate_object_meta(rc.get("metadata"), True, DNS1123_SUBDOMAIN)
    errs.extend(_validate_rc_spec(mapping(rc.get("spec"))))
    return errs


def validate_replication_controller_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    errs = _meta_update(new, old)
    errs.extend(_validate_rc_spec(mapping(new.get("spec"))))
    return errs


__all__ = [
    "FIELD_IMMUTABLE",
    "validate_config_map",
    "validate_config_map_update",
    "validate_namespace",
    "validate_namespace_update",
    "validate_node",
    "validate_node_update",
    "validate_persistent_volume",
    "validate_persistent_volume_claim",
    "validate_persistent_volume_claim_update",
    "validate_persistent_volume_update",
    "validate_replication_controller",
    "validate_replication_controller_update",
    "validate_secret",
    "validate_secret_update",
    "validate_service",
    "validate_service_account",
    "validate_service_update",
]
