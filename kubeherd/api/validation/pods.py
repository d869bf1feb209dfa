"""Pod and pod-template validation (the parts of upstream ``ValidatePodSpec`` users hit).

Objects are validated as upstream validates them *after defaulting*: a field that
upstream defaults (``restartPolicy``, ``dnsPolicy``, ``terminationGracePeriodSeconds``,
port ``protocol``, ``imagePullPolicy`` ...) is accepted when absent and checked when
given.  Covered: volumes (names, one source, the common sources' required fields),
containers and init containers (names, images, ports, env names, volume mounts,
pull policy, probes, lifecycle hooks, resources, security-context IDs, host-port
clashes), sysctl names, restart/DNS policy, node selector, tolerations, names of referenced
objects, ``activeDeadlineSeconds``, and the update rules (only images,
``activeDeadlineSeconds``, added tolerations, scheduling-gate removal and the
negative ``terminationGracePeriodSeconds`` fix may change).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

from kubeherd.api.quantity import Quantity
from kubeherd.api.validation._obj import integer, is_int, mapping, quantity, seq, string
from kubeherd.api.validation.field import (
    Cause,
    GoRaw,
    child,
    duplicate,
    forbidden,
    index,
    invalid,
    key,
    not_found,
    not_supported,
    required,
)
from kubeherd.api.validation.meta import (
    validate_annotations,
    validate_label_name,
    validate_labels,
    validate_nonnegative,
    validate_object_meta,
    validate_object_meta_update,
)
from kubeherd.api.validation.names import (
    DNS1123_SUBDOMAIN,
    inclusive_range_error,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_http_header_name,
    is_qualified_name,
    is_relaxed_env_var_name,
    is_valid_group_id,
    is_valid_label_value,
    is_valid_port_name,
    is_valid_port_num,
    is_valid_user_id,
)
from kubeherd.api.validation.sysctls import validate_sysctls

__all__ = [
    "validate_pod",
    "validate_pod_spec",
    "validate_pod_template_spec",
    "validate_pod_update",
    "validate_resource_requirements",
]

MAX_INT32 = 2**31 - 1
_PROTOCOLS = ["SCTP", "TCP", "UDP"]
_PULL_POLICIES = ["Always", "IfNotPresent", "Never"]
_RESTART_POLICIES = ["Always", "OnFailure", "Never"]
_DNS_POLICIES = ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"]
_TAINT_EFFECTS = ["NoSchedule", "PreferNoSchedule", "NoExecute"]

# (JSON key, name upstream uses in its "more than 1 volume type" error path)
_VOLUME_SOURCES = [
    ("emptyDir", "emptyDir"),
    ("hostPath", "hostPath"),
    ("gitRepo", "gitRepo"),
    ("gcePersistentDisk", "gcePersistentDisk"),
    ("awsElasticBlockStore", "awsElasticBlockStore"),
    ("secret", "secret"),
    ("nfs", "nfs"),
    ("iscsi", "iscsi"),
    ("glusterfs", "glusterfs"),
    ("flocker", "flocker"),
    ("persistentVolumeClaim", "persistentVolumeClaim"),
    ("rbd", "rbd"),
    ("cinder", "cinder"),
    ("cephfs", "cephFS"),
    ("quobyte", "quobyte"),
    ("downwardAPI", "downwarAPI"),
    ("fc", "fc"),
    ("flexVolume", "flexVolume"),
    ("configMap", "configMap"),
    ("azureFile", "azureFile"),
    ("vsphereVolume", "vsphereVolume"),
    ("photonPersistentDisk", "photonPersistentDisk"),
    ("portworxVolume", "portworxVolume"),
    ("azureDisk", "azureDisk"),
    ("storageos", "storageos"),
    ("projected", "projected"),
    ("scaleIO", "scaleIO"),
    ("csi", "csi"),
    ("ephemeral", "ephemeral"),
    ("image", "image"),
]
_FILE_MODE_MSG = "must be a number between 0 and 0777 (octal), both inclusive"


# Volumes ---------------------------------------------------------------------------------


def _file_mode(value: Any, path: str) -> list[Cause]:
    if is_int(value) and not 0 <= value <= 0o777:
        return [invalid(path, value, _FILE_MODE_MSG)]
    return []


def _volume_source(vol: Mapping[str, Any], path: str) -> list[Cause]:
    errs: list[Cause] = []
    count = 0
    for src_key, err_name in _VOLUME_SOURCES:
        if vol.get(src_key) is None:
            continue
        if count > 0:
            errs.append(forbidden(child(path, err_name), "may not specify more than 1 volume type"))
            continue
        count += 1
        src = mapping(vol.get(src_key))
        spath = child(path, src_key)
        if src_key == "emptyDir" and src.get("sizeLimit") is not None:
            limit = quantity(src.get("sizeLimit"), child(spath, "sizeLimit"), errs)
            if limit is not None and limit.sign() < 0:
                errs.append(
                    forbidden(child(spath, "sizeLimit"), "SizeLimit field must be a valid resource quantity")
                )
        elif src_key == "hostPath" and not string(src.get("path")):
            errs.append(required(child(spath, "path")))
        elif src_key == "secret":
            if not string(src.get("secretName")):
                errs.append(required(child(spath, "secretName")))
            errs.extend(_file_mode(src.get("defaultMode"), child(spath, "defaultMode")))
        elif src_key == "configMap":
            if not string(src.get("name")):
                errs.append(required(child(spath, "name")))
            errs.extend(_file_mode(src.get("defaultMode"), child(spath, "defaultMode")))
        elif src_key == "persistentVolumeClaim" and not string(src.get("claimName")):
            errs.append(required(child(spath, "claimName")))
        elif src_key == "nfs":
            if not string(src.get("server")):
                errs.append(required(child(spath, "server")))
            if not string(src.get("path")):
                errs.append(required(child(spath, "path")))
    if count == 0:
        errs.append(required(path, "must specify a volume type"))
    return errs


def _validate_volumes(volumes: list[Any], path: str) -> tuple[set[str], list[Cause]]:
    errs: list[Cause] = []
    names: set[str] = set()
    for i, raw in enumerate(volumes):
        vol = mapping(raw)
        vpath = index(path, i)
        name = string(vol.get("name"))
        el = _volume_source(vol, vpath)
        if not name:
            el.append(required(child(vpath, "name")))
        else:
            el.extend(invalid(child(vpath, "name"), name, m) for m in is_dns1123_label(name))
        if name in names:
            el.append(duplicate(child(vpath, "name"), name))
        if el:
            errs.extend(el)
        else:
            names.add(name)
    return names, errs


# Containers ------------------------------------------------------------------------------


def _port_num_or_name(value: Any, path: str) -> list[Cause]:
    if is_int(value):
        return [invalid(path, value, m) for m in is_valid_port_num(value)]
    if isinstance(value, str):
        return [invalid(path, value, m) for m in is_valid_port_name(value)]
    return [invalid(path, value, "must be an integer or a port name")]


def _container_ports(ports: list[Any], path: str) -> list[Cause]:
    errs: list[Cause] = []
    names: set[str] = set()
    for i, raw in enumerate(ports):
        port = mapping(raw)
        ppath = index(path, i)
        name = string(port.get("name"))
        if name:
            msgs = is_valid_port_name(name)
            if msgs:
                errs.extend(invalid(child(ppath, "name"), name, m) for m in msgs)
            elif name in names:
                errs.append(duplicate(child(ppath, "name"), name))
            else:
                names.add(name)
        container_port = integer(port, "containerPort", child(ppath, "containerPort"), errs, 0)
        if not container_port:
            errs.append(required(child(ppath, "containerPort")))
        else:
            errs.extend(
                invalid(child(ppath, "containerPort"), container_port, m)
                for m in is_valid_port_num(container_port)
            )
        host_port = integer(port, "hostPort", child(ppath, "hostPort"), errs, 0)
        if host_port:
            errs.extend(invalid(child(ppath, "hostPort"), host_port, m) for m in is_valid_port_num(host_port))
        protocol = port.get("protocol")
        if protocol and protocol not in _PROTOCOLS:
            errs.append(not_supported(child(ppath, "protocol"), protocol, _PROTOCOLS))
    return errs


def _env(env: list[Any], path: str) -> list[Cause]:
    errs: list[Cause] = []
    for i, raw in enumerate(env):
        var = mapping(raw)
        epath = index(path, i)
        name = string(var.get("name"))
        if not name:
            errs.append(required(child(epath, "name")))
        else:
            errs.extend(invalid(child(epath, "name"), name, m) for m in is_relaxed_env_var_name(name))
        value_from = var.get("valueFrom")
        if value_from is None:
            continue
        vf = mapping(value_from)
        vpath = child(epath, "valueFrom")
        sources = [
            k
            for k in ("fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef")
            if vf.get(k) is not None
        ]
        for ref in ("configMapKeyRef", "secretKeyRef"):
            if vf.get(ref) is not None:
                ref_key = string(mapping(vf.get(ref)).get("key"))
                if not ref_key:
                    errs.append(required(child(vpath, ref, "key")))
        if not sources:
            errs.append(
                invalid(
                    vpath,
                    "",
                    "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
                )
            )
        elif string(var.get("value")):
            errs.append(invalid(vpath, "", "may not be specified when `value` is not empty"))
        elif len(sources) > 1:
            errs.append(invalid(vpath, "", "may not have more than one field specified at a time"))
    return errs


def _volume_mounts(mounts: list[Any], volumes: set[str], path: str) -> list[Cause]:
    errs: list[Cause] = []
    seen: set[str] = set()
    for i, raw in enumerate(mounts):
        mnt = mapping(raw)
        mpath = index(path, i)
        name = string(mnt.get("name"))
        mount_path = string(mnt.get("mountPath"))
        if not name:
            errs.append(required(child(mpath, "name")))
        if name not in volumes:
            errs.append(not_found(child(mpath, "name"), name))
        if not mount_path:
            errs.append(required(child(mpath, "mountPath")))
        if mount_path in seen:
            errs.append(invalid(child(mpath, "mountPath"), mount_path, "must be unique"))
        seen.add(mount_path)
        if string(mnt.get("subPath")) and string(mnt.get("subPathExpr")):
            errs.append(
                invalid(
                    child(mpath, "subPathExpr"),
                    mnt.get("subPathExpr"),
                    "subPathExpr and subPath are mutually exclusive",
                )
            )
    return errs


def _handler(handler: Mapping[str, Any], kinds: tuple[str, ...], path: str) -> list[Cause]:
    errs: list[Cause] = []
    count = 0
    for kind in kinds:
        if handler.get(kind) is None:
            continue
        if count > 0:
            errs.append(forbidden(child(path, kind), "may not specify more than 1 handler type"))
            continue
        count += 1
        action = mapping(handler.get(kind))
        apath = child(path, kind)
        if kind == "exec" and not seq(action.get("command")):
            errs.append(required(child(apath, "command")))
        elif kind == "httpGet":
            errs.extend(_port_num_or_name(action.get("port"), child(apath, "port")))
            scheme = action.get("scheme")
            if scheme and scheme not in ("HTTP", "HTTPS"):
                errs.append(not_supported(child(apath, "scheme"), scheme, ["HTTP", "HTTPS"]))
            for header in seq(action.get("httpHeaders")):
                hname = string(mapping(header).get("name"))
                errs.extend(
                    invalid(child(apath, "httpHeaders"), hname, m) for m in is_http_header_name(hname)
                )
        elif kind == "tcpSocket":
            errs.extend(_port_num_or_name(action.get("port"), child(apath, "port")))
        elif kind == "grpc":
            port = action.get("port")
            errs.extend(_port_num_or_name(port if is_int(port) else 0, child(apath, "port")))
    if count == 0:
        errs.append(required(path, "must specify a handler type"))
    return errs


def _probe(probe: Any, path: str, single_success: bool) -> list[Cause]:
    if probe is None:
        return []
    p = mapping(probe)
    errs = _handler(p, ("exec", "httpGet", "tcpSocket", "grpc"), path)
    for fld in (
        "initialDelaySeconds",
        "timeoutSeconds",
        "periodSeconds",
        "successThreshold",
        "failureThreshold",
    ):
        errs.extend(validate_nonnegative(p.get(fld), child(path, fld)))
    grace = p.get("terminationGracePeriodSeconds")
    if is_int(grace) and grace <= 0:
        errs.append(invalid(child(path, "terminationGracePeriodSeconds"), grace, "must be greater than 0"))
    success = p.get("successThreshold")
    if single_success and is_int(success) and success != 1:
        errs.append(invalid(child(path, "successThreshold"), success, "must be 1"))
    return errs


def _lifecycle(lifecycle: Any, path: str) -> list[Cause]:
    errs: list[Cause] = []
    lc = mapping(lifecycle)
    for hook in ("postStart", "preStop"):
        if lc.get(hook) is not None:
            errs.extend(
                _handler(mapping(lc.get(hook)), ("exec", "httpGet", "tcpSocket", "sleep"), child(path, hook))
            )
    return errs


def _security_context(sc: Any, path: str) -> list[Cause]:
    errs: list[Cause] = []
    ctx = mapping(sc)
    for fld, check in (
        ("runAsUser", is_valid_user_id),
        ("runAsGroup", is_valid_group_id),
        ("fsGroup", is_valid_group_id),
    ):
        value = ctx.get(fld)
        if is_int(value):
            errs.extend(invalid(child(path, fld), value, m) for m in check(value))
    for i, gid in enumerate(seq(ctx.get("supplementalGroups"))):
        if is_int(gid):
            errs.extend(
                invalid(index(child(path, "supplementalGroups"), i), gid, m) for m in is_valid_group_id(gid)
            )
    return errs


def _container_common(ctr: Mapping[str, Any], volumes: set[str], path: str) -> list[Cause]:
    errs: list[Cause] = []
    name = string(ctr.get("name"))
    if not name:
        errs.append(required(child(path, "name")))
    else:
        errs.extend(invalid(child(path, "name"), name, m) for m in is_dns1123_label(name))
    if not string(ctr.get("image")):
        errs.append(required(child(path, "image")))
    policy = ctr.get("terminationMessagePolicy")
    if policy and policy not in ("File", "FallbackToLogsOnError"):
        errs.append(
            not_supported(child(path, "terminationMessagePolicy"), policy, ["File", "FallbackToLogsOnError"])
        )
    errs.extend(_container_ports(seq(ctr.get("ports")), child(path, "ports")))
    errs.extend(_env(seq(ctr.get("env")), child(path, "env")))
    errs.extend(_volume_mounts(seq(ctr.get("volumeMounts")), volumes, child(path, "volumeMounts")))
    pull = ctr.get("imagePullPolicy")
    if pull and pull not in _PULL_POLICIES:
        errs.append(not_supported(child(path, "imagePullPolicy"), pull, _PULL_POLICIES))
    errs.extend(validate_resource_requirements(ctr.get("resources"), child(path, "resources")))
    errs.extend(_security_context(ctr.get("securityContext"), child(path, "securityContext")))
    return errs


def _host_port_conflicts(
    containers: list[Mapping[str, Any]], path: str, seen: set[str] | None = None
) -> list[Cause]:
    errs: list[Cause] = []
    seen = set() if seen is None else seen
    for ci, ctr in enumerate(containers):
        for pi, raw in enumerate(seq(ctr.get("ports"))):
            port = mapping(raw)
            host_port = port.get("hostPort")
            if not is_int(host_port) or host_port == 0:
                continue
            entry = f"{port.get('protocol') or 'TCP'}/{string(port.get('hostIP'))}/{host_port}"
            if entry in seen:
                errs.append(duplicate(child(index(child(index(path, ci), "ports"), pi), "hostPort"), entry))
            else:
                seen.add(entry)
    return errs


def _containers(containers: list[Any], volumes: set[str], path: str) -> list[Cause]:
    if not containers:
        return [required(path)]
    errs: list[Cause] = []
    names: set[str] = set()
    ctrs = [mapping(c) for c in containers]
    for i, ctr in enumerate(ctrs):
        cpath = index(path, i)
        errs.extend(_container_common(ctr, volumes, cpath))
        name = string(ctr.get("name"))
        if name in names:
            errs.append(duplicate(child(cpath, "name"), name))
        else:
            names.add(name)
        if ctr.get("lifecycle") is not None:
            errs.extend(_lifecycle(ctr.get("lifecycle"), child(cpath, "lifecycle")))
        errs.extend(_probe(ctr.get("livenessProbe"), child(cpath, "livenessProbe"), True))
        errs.extend(_probe(ctr.get("readinessProbe"), child(cpath, "readinessProbe"), False))
        errs.extend(_probe(ctr.get("startupProbe"), child(cpath, "startupProbe"), True))
        if ctr.get("restartPolicy") is not None:
            errs.append(forbidden(child(cpath, "restartPolicy"), "may not be set for non-init containers"))
    errs.extend(_host_port_conflicts(ctrs, path))
    return errs


def _init_containers(containers: list[Any], regular: list[Any], volumes: set[str], path: str) -> list[Cause]:
    errs: list[Cause] = []
    names = {string(mapping(c).get("name")) for c in regular}
    for i, raw in enumerate(containers):
        ctr = mapping(raw)
        cpath = index(path, i)
        errs.extend(_container_common(ctr, volumes, cpath))
        restart = ctr.get("restartPolicy")
        restart_always = restart == "Always"
        if restart is not None and not restart_always:
            errs.append(not_supported(child(cpath, "restartPolicy"), restart, ["Always"]))
        name = string(ctr.get("name"))
        if name in names:
            errs.append(duplicate(child(cpath, "name"), name))
        elif name:
            names.add(name)
        errs.extend(_host_port_conflicts([ctr], path))
        if restart_always:
            if ctr.get("lifecycle") is not None:
                errs.extend(_lifecycle(ctr.get("lifecycle"), child(cpath, "lifecycle")))
            errs.extend(_probe(ctr.get("livenessProbe"), child(cpath, "livenessProbe"), True))
            errs.extend(_probe(ctr.get("readinessProbe"), child(cpath, "readinessProbe"), False))
            errs.extend(_probe(ctr.get("startupProbe"), child(cpath, "startupProbe"), True))
        else:
            for fld in ("lifecycle", "livenessProbe", "readinessProbe", "startupProbe"):
                if ctr.get(fld) is not None:
                    errs.append(
                        forbidden(
                            child(cpath, fld),
                            "may not be set for init containers without restartPolicy=Always",
                        )
                    )
    return errs


# Resources -----------------------------------------------------------------------------------

_STANDARD_CONTAINER_RESOURCES = {"cpu", "memory", "ephemeral-storage"}
_STANDARD_RESOURCES = {
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "pods",
    "resourcequotas",
    "services",
    "replicationcontrollers",
    "secrets",
    "configmaps",
    "persistentvolumeclaims",
    "storage",
    "requests.storage",
    "services.nodeports",
    "services.loadbalancers",
}
_INTEGER_RESOURCES = {
    "pods",
    "resourcequotas",
    "services",
    "replicationcontrollers",
    "secrets",
    "configmaps",
    "persistentvolumeclaims",
    "services.nodeports",
    "services.loadbalancers",
}


def _is_hugepages(name: str) -> bool:
    return name.startswith("hugepages-")


def _is_native(name: str) -> bool:
    return "/" not in name or "kubernetes.io/" in name


def _is_extended(name: str) -> bool:
    if _is_native(name) or name.startswith("requests."):
        return False
    return not is_qualified_name("requests." + name)


def _overcommit_allowed(name: str) -> bool:
    return _is_native(name) and not _is_hugepages(name)


def _container_resource_name(name: str, path: str) -> list[Cause]:
    errs = [invalid(path, name, m) for m in is_qualified_name(name)]
    if errs:
        return errs
    if "/" not in name:
        if (
            name not in _STANDARD_RESOURCES
            and not _is_hugepages(name)
            and not name.startswith("requests.hugepages-")
        ):
            errs.append(invalid(path, name, "must be a standard resource type or fully qualified"))
        if name not in _STANDARD_CONTAINER_RESOURCES and not _is_hugepages(name):
            errs.append(invalid(path, name, "must be a standard resource for containers"))
    elif not _is_native(name) and not _is_extended(name):
        errs.append(invalid(path, name, "doesn't follow extended resource name standard"))
    return errs


def _resource_quantity_value(name: str, q: Quantity, path: str) -> list[Cause]:
    errs: list[Cause] = []
    if q.sign() < 0:
        errs.append(invalid(path, str(q), "must be greater than or equal to 0"))
    if (name in _INTEGER_RESOURCES or _is_extended(name)) and q.milli_value() % 1000 != 0:
        # upstream prints the Quantity struct here; its canonical string is more useful
        errs.append(invalid(path, str(q), "must be an integer"))
    return errs


def validate_resource_requirements(resources: Any, path: str) -> list[Cause]:
    """Container ``resources``: names, non-negative quantities, requests ≤ limits."""
    res = mapping(resources)
    errs: list[Cause] = []
    lim_path, req_path = child(path, "limits"), child(path, "requests")
    limits: dict[str, Quantity] = {}
    qos = False
    hugepages = False
    for name, raw in mapping(res.get("limits")).items():
        fpath = key(lim_path, name)
        errs.extend(_container_resource_name(name, fpath))
        q = quantity(raw, fpath, errs)
        if q is None:
            continue
        limits[name] = q
        errs.extend(_resource_quantity_value(name, q, fpath))
        hugepages = hugepages or _is_hugepages(name)
        qos = qos or name in ("cpu", "memory")
    for name, raw in mapping(res.get("requests")).items():
        fpath = key(req_path, name)
        errs.extend(_container_resource_name(name, fpath))
        q = quantity(raw, fpath, errs)
        if q is None:
            continue
        errs.extend(_resource_quantity_value(name, q, fpath))
        limit = limits.get(name)
        if limit is not None:
            if q.cmp(limit) != 0 and not _overcommit_allowed(name):
                errs.append(invalid(req_path, str(q), f"must be equal to {name} limit of {limit}"))
            elif q.cmp(limit) > 0:
                errs.append(
                    invalid(req_path, str(q), f"must be less than or equal to {name} limit of {limit}")
                )
        elif name not in mapping(res.get("limits")) and not _overcommit_allowed(name):
            errs.append(required(lim_path, "Limit must be set for non overcommitable resources"))
        hugepages = hugepages or _is_hugepages(name)
        qos = qos or name in ("cpu", "memory")
    if hugepages and not qos:
        errs.append(forbidden(path, "HugePages require cpu or memory"))
    return errs


# Pod spec ------------------------------------------------------------------------------------


def _tolerations(tolerations: list[Any], path: str) -> list[Cause]:
    errs: list[Cause] = []
    for i, raw in enumerate(tolerations):
        tol = mapping(raw)
        tpath = index(path, i)
        tkey = string(tol.get("key"))
        op = tol.get("operator") or ""
        value = string(tol.get("value"))
        effect = tol.get("effect") or ""
        if tkey:
            errs.extend(validate_label_name(tkey, child(tpath, "key")))
        if not tkey and op != "Exists":
            errs.append(
                invalid(
                    child(tpath, "operator"),
                    op,
                    'operator must be Exists when `key` is empty, which means "match all values and all keys"',
                )
            )
        if tol.get("tolerationSeconds") is not None and effect != "NoExecute":
            errs.append(
                invalid(
                    child(tpath, "effect"),
                    effect,
                    "effect must be 'NoExecute' when `tolerationSeconds` is set",
                )
            )
        if op in ("Equal", ""):
            msgs = is_valid_label_value(value)
            if msgs:
                errs.append(invalid(child(tpath, "operator"), value, ";".join(msgs)))
        elif op == "Exists":
            if value:
                errs.append(
                    invalid(
                        child(tpath, "operator"), value, "value must be empty when `operator` is 'Exists'"
                    )
                )
        else:
            errs.append(not_supported(child(tpath, "operator"), op, ["Equal", "Exists"]))
        if effect and effect not in _TAINT_EFFECTS:
            errs.append(not_supported(child(tpath, "effect"), effect, _TAINT_EFFECTS))
    return errs


def _name_field(spec: Mapping[str, Any], fld: str, path: str) -> list[Cause]:
    value = string(spec.get(fld))
    if not value:
        return []
    return [invalid(child(path, fld), value, m) for m in is_dns1123_subdomain(value)]


def validate_pod_spec(spec: Any, path: str = "spec", *, is_pod: bool = False) -> list[Cause]:
    """Upstream ``ValidatePodSpec`` (the commonly hit subset, see module docs)."""
    s = mapping(spec)
    errs: list[Cause] = []
    volumes, vol_errs = _validate_volumes(seq(s.get("volumes")), child(path, "volumes"))
    errs.extend(vol_errs)
    containers = seq(s.get("containers"))
    errs.extend(_containers(containers, volumes, child(path, "containers")))
    errs.extend(
        _init_containers(seq(s.get("initContainers")), containers, volumes, child(path, "initContainers"))
    )
    hostnet = s.get("hostNetwork") is True
    if hostnet:
        for ci, raw in enumerate(containers):
            for pi, rawp in enumerate(seq(mapping(raw).get("ports"))):
                port = mapping(rawp)
                hp, cp = port.get("hostPort") or 0, port.get("containerPort") or 0
                if (is_pod or hp != 0) and hp != cp:
                    ppath = index(child(index(child(path, "containers"), ci), "ports"), pi)
                    errs.append(
                        invalid(
                            child(ppath, "hostPort"),
                            hp,
                            "must match `containerPort` when `hostNetwork` is true",
                        )
                    )
    restart = s.get("restartPolicy")
    if restart and restart not in _RESTART_POLICIES:
        errs.append(not_supported(child(path, "restartPolicy"), restart, _RESTART_POLICIES))
    dns = s.get("dnsPolicy")
    if dns and dns not in _DNS_POLICIES:
        errs.append(not_supported(child(path, "dnsPolicy"), dns, _DNS_POLICIES))
    errs.extend(validate_labels(s.get("nodeSelector"), child(path, "nodeSelector")))
    errs.extend(_security_context(s.get("securityContext"), child(path, "securityContext")))
    errs.extend(validate_sysctls(s, child(path, "securityContext", "sysctls")))
    for i, ref in enumerate(seq(s.get("imagePullSecrets"))):
        if set(mapping(ref)) - {"name"}:
            errs.append(
                invalid(index(child(path, "imagePullSecrets"), i), dict(mapping(ref)), "only name may be set")
            )
    errs.extend(_name_field(s, "serviceAccountName", path))
    errs.extend(_name_field(s, "nodeName", path))
    deadline = integer(s, "activeDeadlineSeconds", child(path, "activeDeadlineSeconds"), errs)
    if deadline is not None and not 1 <= deadline <= MAX_INT32:
        errs.append(
            invalid(child(path, "activeDeadlineSeconds"), deadline, inclusive_range_error(1, MAX_INT32))
        )
    for fld in ("hostname", "subdomain"):
        value = string(s.get(fld))
        if value:
            errs.extend(invalid(child(path, fld), value, m) for m in is_dns1123_label(value))
    errs.extend(_tolerations(seq(s.get("tolerations")), child(path, "tolerations")))
    errs.extend(_name_field(s, "priorityClassName", path))
    return errs


def validate_pod_template_spec(template: Any, path: str) -> list[Cause]:
    """Upstream ``ValidatePodTemplateSpec`` (labels, annotations, spec)."""
    t = mapping(template)
    meta = mapping(t.get("metadata"))
    errs = validate_labels(meta.get("labels"), child(path, "labels"))
    errs.extend(validate_annotations(meta.get("annotations"), child(path, "annotations")))
    spec = mapping(t.get("spec"))
    errs.extend(validate_pod_spec(spec, child(path, "spec")))
    if seq(spec.get("ephemeralContainers")):
        errs.append(
            forbidden(
                child(path, "spec", "ephemeralContainers"), "ephemeral containers not allowed in pod template"
            )
        )
    return errs


def _pod_metadata_and_spec(pod: Mapping[str, Any], create: bool) -> list[Cause]:
    errs = validate_object_meta(pod.get("metadata"), True, DNS1123_SUBDOMAIN, create)
    spec = mapping(pod.get("spec"))
    errs.extend(validate_pod_spec(spec, "spec", is_pod=True))
    for fld in ("containers", "initContainers"):
        for i, raw in enumerate(seq(spec.get(fld))):
            image = string(mapping(raw).get("image"))
            if image != image.strip():
                errs.append(
                    invalid(
                        child(index(child("spec", fld), i), "image"),
                        image,
                        "must not have leading or trailing whitespace",
                    )
                )
    return errs


def validate_pod(pod: Mapping[str, Any]) -> list[Cause]:
    """Upstream ``ValidatePodCreate``."""
    errs = _pod_metadata_and_spec(pod, True)
    spec = mapping(pod.get("spec"))
    if seq(spec.get("ephemeralContainers")):
        errs.append(forbidden("spec.ephemeralContainers", "cannot be set on create"))
    if string(spec.get("nodeName")) and seq(spec.get("schedulingGates")):
        errs.append(forbidden("spec.nodeName", "cannot be set until all schedulingGates have been cleared"))
    return errs


_UPDATABLE_POD_SPEC_FIELDS = [
    "`spec.containers[*].image`",
    "`spec.initContainers[*].image`",
    "`spec.activeDeadlineSeconds`",
    "`spec.tolerations` (only additions to existing tolerations)",
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
]


def _container_updates(new: list[Any], old: list[Any], path: str) -> tuple[list[Cause], bool]:
    if len(new) != len(old):
        return [forbidden(path, "pod updates may not add or remove containers")], True
    errs: list[Cause] = []
    for i, raw in enumerate(new):
        image = string(mapping(raw).get("image"))
        if not image:
            errs.append(required(child(index(path, i), "image")))
        if image.strip() != image:
            errs.append(
                invalid(child(index(path, i), "image"), image, "must not have leading or trailing whitespace")
            )
    return errs, False


def _without_seconds(tol: Any) -> dict[str, Any]:
    out = dict(mapping(tol))
    out.pop("tolerationSeconds", None)
    return _normalize(out)


def _only_added_tolerations(new: list[Any], old: list[Any], path: str) -> list[Cause]:
    new_norm = [_without_seconds(t) for t in new]
    for t in old:
        if _without_seconds(t) not in new_norm:
            return [forbidden(path, "existing toleration can not be modified except its tolerationSeconds")]
    return _tolerations(new, path)


def _is_unset(value: Any) -> bool:
    return value is None or value is False or (isinstance(value, (str, list, dict)) and not value)


def _normalize(value: Any, in_resources: bool = False) -> Any:
    """Semantic equality as upstream's: unset, null and empty are the same, and
    quantities compare by amount."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            norm = _normalize(v, in_resources or k in ("limits", "requests", "overhead"))
            if _is_unset(norm):
                continue
            if in_resources and isinstance(v, (str, int, float)) and not isinstance(v, bool):
                sink: list[Cause] = []
                q = quantity(v, "", sink)
                norm = ("quantity", q.nanos) if q is not None else norm
            out[k] = norm
        return out
    if isinstance(value, list):
        return [_normalize(v, in_resources) for v in value]
    return value


def semantic_equal(a: Any, b: Any) -> bool:
    """Upstream ``apiequality.Semantic.DeepEqual`` on JSON-shaped values."""
    return bool(_normalize(a) == _normalize(b))


def _diff_lines(old: Any, new: Any, path: str, out: list[str]) -> None:
    if old == new:
        return
    if isinstance(old, dict) and isinstance(new, dict):
        for k in sorted(set(old) | set(new), key=str):
            _diff_lines(old.get(k), new.get(k), f"{path}.{k}" if path else str(k), out)
        return
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            _diff_lines(a, b, f"{path}[{i}]", out)
        return

    def show(v: Any) -> str:
        return "<unset>" if v is None else json.dumps(v, sort_keys=True, default=str)

    out.append(f"- \t{path}: {show(old)}")
    out.append(f"+ \t{path}: {show(new)}")


def spec_diff(old: Any, new: Any, type_name: str = "core.PodSpec") -> str:
    """A short -/+ listing of what differs, standing in for upstream's ``cmp.Diff``."""
    lines: list[str] = []
    _diff_lines(_normalize(old), _normalize(new), "", lines)
    return "\n".join([f"  {type_name}{{", *lines, "  }"]) + "\n"


MIRROR_ANNOTATION = "kubernetes.io/config.mirror"


def _mirror_annotation_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    """The mirror pod annotation is set at creation only (upstream
    ``ValidatePodSpecificAnnotationUpdates``)."""
    new_ann = mapping(mapping(new.get("metadata")).get("annotations"))
    old_ann = mapping(mapping(old.get("metadata")).get("annotations"))
    path = f"metadata.annotations[{MIRROR_ANNOTATION}]"
    if MIRROR_ANNOTATION in old_ann and new_ann.get(MIRROR_ANNOTATION) != old_ann[MIRROR_ANNOTATION]:
        return [forbidden(path, "may not remove or update mirror pod annotation")]
    if MIRROR_ANNOTATION in new_ann and MIRROR_ANNOTATION not in old_ann:
        return [forbidden(path, "may not add mirror pod annotation")]
    return []


def validate_pod_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    """Upstream ``ValidatePodUpdate``: only a few spec fields are mutable."""
    errs = validate_object_meta_update(new.get("metadata"), old.get("metadata"))
    errs.extend(_mirror_annotation_update(new, old))
    errs.extend(_pod_metadata_and_spec(new, False))
    new_spec, old_spec = mapping(new.get("spec")), mapping(old.get("spec"))
    for fld in ("containers", "initContainers"):
        cerrs, stop = _container_updates(seq(new_spec.get(fld)), seq(old_spec.get(fld)), child("spec", fld))
        errs.extend(cerrs)
        if stop:
            return errs
    new_deadline, old_deadline = new_spec.get("activeDeadlineSeconds"), old_spec.get("activeDeadlineSeconds")
    if new_deadline is not None:
        if not is_int(new_deadline) or not 0 <= new_deadline <= MAX_INT32:
            errs.append(
                invalid("spec.activeDeadlineSeconds", new_deadline, inclusive_range_error(0, MAX_INT32))
            )
            return errs
        if is_int(old_deadline) and old_deadline < new_deadline:
            errs.append(
                invalid(
                    "spec.activeDeadlineSeconds", new_deadline, "must be less than or equal to previous value"
                )
            )
            return errs
    elif old_deadline is not None:
        errs.append(
            invalid(
                "spec.activeDeadlineSeconds", None, "must not update from a positive integer to nil value"
            )
        )
    errs.extend(
        _only_added_tolerations(
            seq(new_spec.get("tolerations")), seq(old_spec.get("tolerations")), "spec.tolerations"
        )
    )
    old_gates = {string(mapping(g).get("name")) for g in seq(old_spec.get("schedulingGates"))}
    for i, gate in enumerate(seq(new_spec.get("schedulingGates"))):
        gname = string(mapping(gate).get("name"))
        if gname not in old_gates:
            errs.append(
                forbidden(
                    child(index("spec.schedulingGates", i), "name"),
                    f"only deletion is allowed, but found new scheduling gate '{gname}'",
                )
            )
    if _normalize(new_spec) == _normalize(old_spec):
        return errs
    munged = copy.deepcopy(dict(new_spec))
    for fld in ("containers", "initContainers"):
        old_ctrs = seq(old_spec.get(fld))
        fixed = []
        for i, raw in enumerate(seq(munged.get(fld))):
            ctr = dict(mapping(raw))
            ctr["image"] = mapping(old_ctrs[i]).get("image")
            fixed.append(ctr)
        munged[fld] = fixed
    for fld in ("activeDeadlineSeconds", "schedulingGates", "tolerations"):
        munged[fld] = old_spec.get(fld)
    old_grace, new_grace = (
        old_spec.get("terminationGracePeriodSeconds"),
        munged.get("terminationGracePeriodSeconds"),
    )
    if is_int(old_grace) and old_grace < 0 and new_grace == 1:
        munged["terminationGracePeriodSeconds"] = old_grace
    if old_gates:
        # gated pods may gain node selectors and node affinity
        munged["nodeSelector"] = old_spec.get("nodeSelector")
        affinity = dict(mapping(munged.get("affinity")))
        affinity["nodeAffinity"] = mapping(old_spec.get("affinity")).get("nodeAffinity")
        munged["affinity"] = affinity
    if _normalize(munged) != _normalize(old_spec):
        detail = "pod updates may not change fields other than " + ",".join(_UPDATABLE_POD_SPEC_FIELDS)
        errs.append(forbidden("spec", detail + "\n" + spec_diff(old_spec, munged)))
    return errs


def go_pod_template(template: Any) -> GoRaw:
    """Stand-in for ``%#v`` of a ``core.PodTemplateSpec`` (a JSON rendering)."""
    return GoRaw(
        "core.PodTemplateSpec" + json.dumps(template, sort_keys=True, separators=(",", ":"), default=str)
    )
