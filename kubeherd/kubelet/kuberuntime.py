"""Pod spec → CRI configs: sandbox config, container config, environment, resources, mounts.

Pure functions (plus the lookups they are given), as upstream's ``kuberuntime`` helpers, so
the pod worker only decides *when* to create things and these decide *what*. The labels put
on sandboxes and containers are upstream's (``io.kubernetes.pod.uid`` …): they are how a
restarted kubelet recognises its pods in the runtime and carries on where it stopped. The
restart count lives on the container as upstream's ``io.kubernetes.container.restartCount``
annotation (also a label here, so a list call returns it).
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubeherd.api.quantity import Quantity

from .cgroups import pod_cgroup_name
from .cri import (
    ContainerConfig,
    ContainerMetadata,
    DNSConfig,
    Image,
    ImageSpec,
    KeyValue,
    LinuxContainerConfig,
    LinuxContainerResources,
    LinuxPodSandboxConfig,
    Mount,
    NamespaceMode,
    NamespaceOption,
    PodSandboxConfig,
    PodSandboxMetadata,
    PortMapping,
    Protocol,
)
from .etchosts import pod_hostname
from .security import container_security_context, sandbox_security_context, sysctls
from .volumes import field_value, resource_value, sub_path

Obj = dict[str, Any]

POD_UID = "io.kubernetes.pod.uid"
POD_NAME = "io.kubernetes.pod.name"
POD_NAMESPACE = "io.kubernetes.pod.namespace"
CONTAINER_NAME = "io.kubernetes.container.name"
RESTART_COUNT = "io.kubernetes.container.restartCount"
CONTAINER_TYPE = "io.kubernetes.kubeherd.container-type"  # init | app | ephemeral
MANAGED = "io.kubernetes.kubeherd.managed"
TERMINATION_MESSAGE_PATH = "io.kubernetes.container.terminationMessagePath"
TERMINATION_MESSAGE_POLICY = "io.kubernetes.container.terminationMessagePolicy"

CLUSTER_DNS = "10.43.0.10"
CLUSTER_DOMAIN = "cluster.local"


@dataclass(frozen=True)
class ClusterDNS:
    """The kubelet's --cluster-dns servers and --cluster-domain, what ClusterFirst pods resolve with."""

    servers: tuple[str, ...] = (CLUSTER_DNS,)
    domain: str = CLUSTER_DOMAIN


MIN_SHARES = 2
QUOTA_PERIOD = 100_000
GUARANTEED_OOM_SCORE_ADJ = -997
BESTEFFORT_OOM_SCORE_ADJ = 1000

_VAR_REF = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_.\-]*)\)|\$\$")


def expand(text: str, env: dict[str, str]) -> str:
    """Upstream's ``$(VAR)`` expansion: known names are replaced, ``$$`` escapes a ``$``,
    unknown references stay as written."""
    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1)
        return env[name] if name in env else m.group(0)
    return _VAR_REF.sub(sub, text)


def qos_class(pod: Obj) -> str:
    """Guaranteed, Burstable or BestEffort, from the containers' requests and limits."""
    containers = ((pod.get("spec") or {}).get("containers") or []) + \
        ((pod.get("spec") or {}).get("initContainers") or [])
    requests: dict[str, int] = {}
    limits: dict[str, int] = {}
    any_set = False
    guaranteed = True
    for c in containers:
        res = c.get("resources") or {}
        req = {k: Quantity.parse(str(v)).nanos for k, v in (res.get("requests") or {}).items()
               if k in ("cpu", "memory")}
        lim = {k: Quantity.parse(str(v)).nanos for k, v in (res.get("limits") or {}).items()
               if k in ("cpu", "memory")}
        if req or lim:
            any_set = True
        for k, v in lim.items():
            req.setdefault(k, v)  # requests default to limits
        if set(lim) != {"cpu", "memory"} or any(req.get(k) != lim.get(k) for k in ("cpu", "memory")):
            guaranteed = False
        for k, v in req.items():
            requests[k] = requests.get(k, 0) + v
        for k, v in lim.items():
            limits[k] = limits.get(k, 0) + v
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def cgroup_parent(pod: Obj) -> str:
    return "/" + pod_cgroup_name(pod["metadata"]["uid"], qos_class(pod))


def oom_score_adj(pod: Obj, container: Obj, memory_capacity: int) -> int:
    """Upstream's per-QoS OOM score: Guaranteed (and node-critical) pods last, BestEffort first,
    Burstable by the share of the node's memory the container requests."""
    if (pod.get("spec") or {}).get("priorityClassName") == "system-node-critical":
        return GUARANTEED_OOM_SCORE_ADJ
    qos = qos_class(pod)
    if qos == "Guaranteed":
        return GUARANTEED_OOM_SCORE_ADJ
    if qos == "BestEffort":
        return BESTEFFORT_OOM_SCORE_ADJ
    requests = (container.get("resources") or {}).get("requests") or {}
    limits = (container.get("resources") or {}).get("limits") or {}
    memory = requests.get("memory", limits.get("memory"))
    request = Quantity.parse(str(memory)).value() if memory is not None else 0
    score = 1000 - (1000 * request) // memory_capacity if memory_capacity > 0 else 1000
    if score < 1000 + GUARANTEED_OOM_SCORE_ADJ:
        return 1000 + GUARANTEED_OOM_SCORE_ADJ
    return score - 1 if score == BESTEFFORT_OOM_SCORE_ADJ else score


def container_resources(container: Obj) -> LinuxContainerResources:
    res = container.get("resources") or {}
    limits = res.get("limits") or {}
    requests = res.get("requests") or {}
    cpu_request = requests.get("cpu", limits.get("cpu"))
    shares = MIN_SHARES
    if cpu_request is not None:
        shares = max(MIN_SHARES, Quantity.parse(str(cpu_request)).scaled_value(-3) * 1024 // 1000)
    quota = 0
    if "cpu" in limits:
        milli = Quantity.parse(str(limits["cpu"])).scaled_value(-3)
        quota = max(1000, milli * QUOTA_PERIOD // 1000)
    memory = Quantity.parse(str(limits["memory"])).value() if "memory" in limits else 0
    return LinuxContainerResources(cpu_period=QUOTA_PERIOD if quota else 0, cpu_quota=quota, cpu_shares=shares,
                                   memory_limit_in_bytes=memory)


def dns_config(pod: Obj, cluster: ClusterDNS = ClusterDNS(),
               host_resolv: Path = Path("/etc/resolv.conf")) -> DNSConfig | None:
    spec = pod.get("spec") or {}
    policy = spec.get("dnsPolicy") or "ClusterFirst"
    cluster_first = policy == "ClusterFirstWithHostNet" or (policy == "ClusterFirst" and not spec.get("hostNetwork"))
    if cluster_first and cluster.servers:
        ns, domain = pod["metadata"]["namespace"], cluster.domain
        config = DNSConfig(servers=list(cluster.servers),
                           searches=[f"{ns}.svc.{domain}", f"svc.{domain}", domain],
                           options=["ndots:5"])
    elif policy == "None":
        config = DNSConfig()
    else:  # Default, or ClusterFirst with hostNetwork: the node's resolver
        config = DNSConfig()
        try:
            for line in host_resolv.read_text().splitlines():
                parts = line.split()
                if len(parts) >= 2 and parts[0] == "nameserver":
                    config.servers.append(parts[1])
                elif parts and parts[0] == "search":
                    config.searches.extend(parts[1:])
                elif parts and parts[0] == "options":
                    config.options.extend(parts[1:])
        except OSError:
            pass
    extra = spec.get("dnsConfig") or {}
    config.servers += extra.get("nameservers") or []
    config.searches += extra.get("searches") or []
    config.options += [o["name"] + (f":{o['value']}" if o.get("value") else "") for o in extra.get("options") or []]
    return config


def sandbox_config(pod: Obj, attempt: int, logs_root: Path, cluster_dns: ClusterDNS = ClusterDNS()) -> PodSandboxConfig:
    meta = pod["metadata"]
    spec = pod.get("spec") or {}
    host_network = bool(spec.get("hostNetwork"))
    hostname = "" if host_network else pod_hostname(pod)
    ports = [PortMapping(protocol=Protocol[p.get("protocol", "TCP")], container_port=p["containerPort"],
                         host_port=p.get("hostPort", 0), host_ip=p.get("hostIP", ""))
             for c in spec.get("containers") or [] for p in c.get("ports") or [] if p.get("hostPort")]
    namespaces = NamespaceOption(
        network=NamespaceMode.NODE if host_network else NamespaceMode.POD,
        pid=NamespaceMode.NODE if spec.get("hostPID") else
        NamespaceMode.POD if spec.get("shareProcessNamespace") else NamespaceMode.CONTAINER,
        ipc=NamespaceMode.NODE if spec.get("hostIPC") else NamespaceMode.POD)
    return PodSandboxConfig(
        metadata=PodSandboxMetadata(name=meta["name"], uid=meta["uid"], namespace=meta["namespace"], attempt=attempt),
        hostname=hostname, log_directory=str(pod_log_dir(logs_root, pod)), dns_config=dns_config(pod, cluster_dns),
        port_mappings=ports,
        labels={POD_UID: meta["uid"], POD_NAME: meta["name"], POD_NAMESPACE: meta["namespace"], MANAGED: "true"},
        annotations={},
        linux=LinuxPodSandboxConfig(cgroup_parent=cgroup_parent(pod),
                                    security_context=sandbox_security_context(pod, namespaces),
                                    sysctls=sysctls(pod)))


def pod_log_dir(logs_root: Path, pod: Obj) -> Path:
    meta = pod["metadata"]
    return logs_root / f"{meta['namespace']}_{meta['name']}_{meta['uid']}"


@dataclass(frozen=True)
class RuntimeValues:
    """What the downward API takes from the node and the sandbox rather than from the pod object
    (which may not carry them yet when the first container starts): the sandbox's IPs (the
    node's with hostNetwork), the node's IPs, and its allocatable, which unset limits read as."""

    pod_ips: tuple[str, ...] = ()
    host_ips: tuple[str, ...] = ()
    allocatable: dict[str, str] = field(default_factory=dict)


def runtime_field_value(pod: Obj, path: str, values: RuntimeValues | None) -> str:
    """A ``fieldRef`` of an environment variable: IPs from ``values``, the rest from the pod."""
    if values is not None:
        if path in ("status.podIP", "status.podIPs"):
            return values.pod_ips[0] if path == "status.podIP" and values.pod_ips else ",".join(values.pod_ips)
        if path in ("status.hostIP", "status.hostIPs"):
            return values.host_ips[0] if path == "status.hostIP" and values.host_ips else ",".join(values.host_ips)
    return field_value(pod, path)


def environment(pod: Obj, container: Obj, lookup: dict[tuple[str, str], Obj | None],
                services: dict[str, str] | None = None, runtime: RuntimeValues | None = None) -> list[KeyValue]:
    """The container's environment: envFrom, then env (later wins), with ``$(VAR)`` expanded
    against what is defined before. ``lookup`` holds the configMaps/secrets the pod refers to
    (``("configmaps", name)`` → object or None). ``services`` are the Service variables
    (:mod:`.envvars`): ``$(VAR)`` sees them, the container's own variables win, and those it
    does not define come last. ``runtime`` gives the downward API's IPs and allocatable
    (:class:`RuntimeValues`)."""
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix", "")
        if "configMapRef" in source:
            obj = lookup.get(("configmaps", source["configMapRef"].get("name", "")))
            if obj is None and not source["configMapRef"].get("optional"):
                raise LookupError(f'configmap "{source["configMapRef"].get("name")}" not found')
            for k, v in ((obj or {}).get("data") or {}).items():
                env[prefix + k] = v
        elif "secretRef" in source:
            obj = lookup.get(("secrets", source["secretRef"].get("name", "")))
            if obj is None and not source["secretRef"].get("optional"):
                raise LookupError(f'secret "{source["secretRef"].get("name")}" not found')
            for k, v in ((obj or {}).get("data") or {}).items():
                env[prefix + k] = base64.b64decode(v).decode(errors="replace")
    for var in container.get("env") or []:
        name = var["name"]
        if "valueFrom" not in var:
            env[name] = expand(str(var.get("value", "")), {**services, **env} if services else env)
            continue
        source = var["valueFrom"]
        if "fieldRef" in source:
            env[name] = runtime_field_value(pod, source["fieldRef"].get("fieldPath", ""), runtime)
        elif "resourceFieldRef" in source:
            env[name] = resource_value(pod, source["resourceFieldRef"], container["name"],
                                       runtime.allocatable if runtime is not None else None)
        else:
            kind, ref = ("configmaps", source["configMapKeyRef"]) if "configMapKeyRef" in source \
                else ("secrets", source.get("secretKeyRef") or {})
            obj = lookup.get((kind, ref.get("name", "")))
            data = (obj or {}).get("data") or {}
            key = ref.get("key", "")
            if key not in data:
                if ref.get("optional"):
                    continue
                what = "configmap" if kind == "configmaps" else "secret"
                raise LookupError(f'couldn\'t find key {key} in {what} {pod["metadata"]["namespace"]}/'
                                  f'{ref.get("name")}')
            env[name] = data[key] if kind == "configmaps" else base64.b64decode(data[key]).decode(errors="replace")
    return [KeyValue(key=k, value=v) for k, v in env.items()] + \
        [KeyValue(key=k, value=v) for k, v in (services or {}).items() if k not in env]


def referenced_objects(pod: Obj) -> set[tuple[str, str]]:
    """The configMaps and secrets the pod's environment refers to."""
    refs: set[tuple[str, str]] = set()
    spec = pod.get("spec") or {}
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        for source in c.get("envFrom") or []:
            if "configMapRef" in source:
                refs.add(("configmaps", source["configMapRef"].get("name", "")))
            if "secretRef" in source:
                refs.add(("secrets", source["secretRef"].get("name", "")))
        for var in c.get("env") or []:
            source = var.get("valueFrom") or {}
            if "configMapKeyRef" in source:
                refs.add(("configmaps", source["configMapKeyRef"].get("name", "")))
            if "secretKeyRef" in source:
                refs.add(("secrets", source["secretKeyRef"].get("name", "")))
    return refs


def _plain_env(pod: Obj, container: Obj) -> dict[str, str]:
    """The container's variables that need no lookup (values and downward-API references)."""
    env: dict[str, str] = {}
    for var in container.get("env") or []:
        source = var.get("valueFrom") or {}
        if "valueFrom" not in var:
            env[var["name"]] = expand(str(var.get("value", "")), env)
        elif "fieldRef" in source:
            env[var["name"]] = field_value(pod, source["fieldRef"].get("fieldPath", ""))
        elif "resourceFieldRef" in source:
            env[var["name"]] = resource_value(pod, source["resourceFieldRef"], container["name"])
    return env


READ_ONLY_KINDS = ("configMap", "secret", "downwardAPI", "projected")


def mounts(pod: Obj, container: Obj, volume_paths: dict[str, Path], env: list[KeyValue] | None = None) -> list[Mount]:
    """The container's CRI mounts. ``subPath`` mounts a sub-directory (made if missing) and
    ``subPathExpr`` one named with the container's ``$(VAR)``s; configMap, secret, downwardAPI
    and projected volumes are always read-only, a claim when its volume source says so."""
    volumes = {v["name"]: v for v in (pod.get("spec") or {}).get("volumes") or []}
    out = []
    values: dict[str, str] | None = {kv.key: kv.value for kv in env} if env is not None else None
    for vm in container.get("volumeMounts") or []:
        host = volume_paths.get(vm["name"])
        if host is None:
            raise LookupError(f"volume {vm['name']} not found")
        if vm.get("subPath"):
            host = sub_path(host, str(vm["subPath"]))
        elif vm.get("subPathExpr"):
            if values is None:
                values = _plain_env(pod, container)
            host = sub_path(host, expand(str(vm["subPathExpr"]), values), "SubPathExpr")
        volume = volumes.get(vm["name"]) or {}
        readonly = bool(vm.get("readOnly")) or any(k in volume for k in READ_ONLY_KINDS) \
            or bool((volume.get("persistentVolumeClaim") or {}).get("readOnly"))
        out.append(Mount(container_path=vm["mountPath"], host_path=str(host), readonly=readonly))
    return out


def container_config(pod: Obj, container: Obj, *, kind: str, restart_count: int, image_ref: str,
                     env: list[KeyValue], mount_list: list[Mount], image: Image | None = None,
                     seccomp_root: Path = Path("/var/lib/kubelet/seccomp"),
                     memory_capacity: int = 0, target_id: str = "") -> ContainerConfig:
    """The CRI config of one container instance; raises ``SecurityContextError`` (runAsNonRoot).
    ``target_id``: the container whose PID namespace an ephemeral container with a
    ``targetContainerName`` joins (when the pod's containers do not share one anyway)."""
    meta = pod["metadata"]
    values = {kv.key: kv.value for kv in env}
    command = [expand(str(a), values) for a in container.get("command") or []]
    args = [expand(str(a), values) for a in container.get("args") or []]
    spec = pod.get("spec") or {}
    namespaces = NamespaceOption(
        network=NamespaceMode.NODE if spec.get("hostNetwork") else NamespaceMode.POD,
        pid=NamespaceMode.NODE if spec.get("hostPID") else
        NamespaceMode.POD if spec.get("shareProcessNamespace") else NamespaceMode.CONTAINER,
        ipc=NamespaceMode.NODE if spec.get("hostIPC") else NamespaceMode.POD)
    if target_id and namespaces.pid == NamespaceMode.CONTAINER:
        namespaces.pid, namespaces.target_id = NamespaceMode.TARGET, target_id
    security = container_security_context(pod, container, namespaces, image, seccomp_root)
    resources = container_resources(container)
    resources.oom_score_adj = oom_score_adj(pod, container, memory_capacity)
    labels = {POD_UID: meta["uid"], POD_NAME: meta["name"], POD_NAMESPACE: meta["namespace"],
              CONTAINER_NAME: container["name"], RESTART_COUNT: str(restart_count), CONTAINER_TYPE: kind,
              MANAGED: "true"}
    return ContainerConfig(
        metadata=ContainerMetadata(name=container["name"], attempt=restart_count),
        image=ImageSpec(image=image_ref), command=command, args=args,
        working_dir=container.get("workingDir", ""), envs=env, mounts=mount_list, labels=labels,
        annotations={RESTART_COUNT: str(restart_count),
                     TERMINATION_MESSAGE_PATH: str(container.get("terminationMessagePath", "/dev/termination-log")),
                     TERMINATION_MESSAGE_POLICY: str(container.get("terminationMessagePolicy") or "File")},
        log_path=f"{container['name']}/{restart_count}.log", stdin=bool(container.get("stdin")),
        stdin_once=bool(container.get("stdinOnce")), tty=bool(container.get("tty")),
        linux=LinuxContainerConfig(resources=resources, security_context=security))
