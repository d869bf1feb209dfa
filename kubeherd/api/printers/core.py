"""Printers for the core group (``v1``): pods, nodes, services and the rest of ``/api/v1``."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._format import (
    Cell,
    Obj,
    age,
    between,
    container_cells,
    dig,
    format_labels,
    integer,
    join_host_port,
    load_balancer_ingress,
    mapping,
    name,
    parse_time,
    quantity,
    seq,
    since,
)
from ._swagger import swagger
from ._table import (
    AGE,
    CONTAINERS,
    IMAGES,
    NAME,
    WIDE_CONTAINERS,
    WIDE_IMAGES,
    Column,
    generic,
    printer,
)

# --- Pod ---------------------------------------------------------------------------------------

POD_COLUMNS = (
    NAME,
    Column("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
    Column("Status", "string", "The aggregate status of the containers in this pod."),
    Column(
        "Restarts",
        "string",
        "The number of times the containers in this pod have been restarted and when the last"
        " container in this pod has restarted.",
    ),
    AGE,
    Column("IP", "string", swagger("core/v1 PodStatus.podIP"), priority=1),
    Column("Node", "string", swagger("core/v1 PodSpec.nodeName"), priority=1),
    Column("Nominated Node", "string", swagger("core/v1 PodStatus.nominatedNodeName"), priority=1),
    Column("Readiness Gates", "string", swagger("core/v1 PodSpec.readinessGates"), priority=1),
)


def pod_conditions(pod: Obj) -> list[dict[str, str]]:
    """Terminal pods carry a ``Completed`` row condition."""
    phase = dig(pod, "status", "phase")
    if phase == "Succeeded":
        message = "The pod has completed successfully."
    elif phase == "Failed":
        message = "The pod failed."
    else:
        return []
    return [{"type": "Completed", "status": "True", "reason": phase, "message": message}]


@dataclass
class _PodSummary:
    reason: str
    ready: int
    total: int
    restarts: int
    last_restart: datetime.datetime | None


def _is_sidecar(container: Any) -> bool:
    """A restartable init container (``restartPolicy: Always``) keeps running beside the app."""
    return dig(container, "restartPolicy") == "Always"


def _latest(current: datetime.datetime | None, status: Obj) -> datetime.datetime | None:
    finished = parse_time(dig(status, "lastState", "terminated", "finishedAt"))
    if finished is None or (current is not None and finished <= current):
        return current
    return finished


def _terminated_reason(terminated: Obj, prefix: str) -> str:
    if dig(terminated, "reason"):
        return prefix + dig(terminated, "reason")
    signal = integer(dig(terminated, "signal"))
    if signal:
        return f"{prefix}Signal:{signal}"
    return f"{prefix}ExitCode:{integer(dig(terminated, 'exitCode'))}"


def _condition_status(conditions: Any, condition_type: Any) -> Any:
    for condition in seq(conditions):
        if dig(condition, "type") == condition_type:
            return dig(condition, "status")
    return None


def summarize_pod(pod: Obj) -> _PodSummary:
    """READY, STATUS and RESTARTS as upstream's ``printPod`` derives them."""
    spec, status = mapping(pod.get("spec")), mapping(pod.get("status"))
    phase = status.get("phase") or ""
    reason = status.get("reason") or phase
    conditions = status.get("conditions")
    for condition in seq(conditions):
        if dig(condition, "type") == "PodScheduled" and dig(condition, "reason") == "SchedulingGated":
            reason = "SchedulingGated"

    init_specs = seq(spec.get("initContainers"))
    sidecars = {dig(c, "name") for c in init_specs if _is_sidecar(c)}
    total = len(seq(spec.get("containers"))) + sum(1 for c in init_specs if _is_sidecar(c))
    ready = restarts = sidecar_restarts = 0
    last_restart: datetime.datetime | None = None
    last_sidecar_restart: datetime.datetime | None = None

    initializing = False
    for index, container in enumerate(seq(status.get("initContainerStatuses"))):
        restarts += integer(dig(container, "restartCount"))
        last_restart = _latest(last_restart, container)
        is_sidecar = dig(container, "name") in sidecars
        if is_sidecar:
            sidecar_restarts += integer(dig(container, "restartCount"))
            last_sidecar_restart = _latest(last_sidecar_restart, container)
        terminated = dig(container, "state", "terminated")
        waiting_reason = dig(container, "state", "waiting", "reason")
        if terminated is not None and integer(dig(terminated, "exitCode")) == 0:
            continue
        if is_sidecar and dig(container, "started") is True:
            if dig(container, "ready") is True:
                ready += 1
            continue
        if terminated is not None:
            reason = _terminated_reason(terminated, "Init:")
        elif waiting_reason and waiting_reason != "PodInitializing":
            reason = "Init:" + waiting_reason
        else:
            reason = f"Init:{index}/{len(init_specs)}"
        initializing = True
        break

    if not initializing or _condition_status(conditions, "Initialized") == "True":
        # Once the pod is initialized only sidecar restarts still count from the init phase.
        restarts, last_restart = sidecar_restarts, last_sidecar_restart
        has_running = False
        for container in reversed(seq(status.get("containerStatuses"))):
            restarts += integer(dig(container, "restartCount"))
            last_restart = _latest(last_restart, container)
            waiting_reason = dig(container, "state", "waiting", "reason")
            terminated = dig(container, "state", "terminated")
            if waiting_reason:
                reason = waiting_reason
            elif terminated is not None:
                reason = _terminated_reason(terminated, "")
            elif dig(container, "ready") is True and dig(container, "state", "running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            pod_ready = any(dig(c, "type") == "Ready" and dig(c, "status") == "True" for c in seq(conditions))
            reason = "Running" if pod_ready else "NotReady"

    if dig(pod, "metadata", "deletionTimestamp") is not None:
        if status.get("reason") == "NodeLost":
            reason = "Unknown"
        elif phase not in ("Succeeded", "Failed"):
            reason = "Terminating"
    return _PodSummary(reason, ready, total, restarts, last_restart)


def _first_pod_ip(status: Obj) -> str:
    # Converting to the internal type keeps podIP authoritative over podIPs.
    if status.get("podIP"):
        return str(status["podIP"])
    ips = seq(status.get("podIPs"))
    return str(dig(ips[0], "ip", default="")) if ips else ""


def _readiness_gates(pod: Obj) -> str:
    gates = seq(dig(pod, "spec", "readinessGates"))
    if not gates:
        return "<none>"
    conditions = dig(pod, "status", "conditions")
    met = sum(1 for g in gates if _condition_status(conditions, dig(g, "conditionType")) == "True")
    return f"{met}/{len(gates)}"


@printer("", "Pod", POD_COLUMNS, conditions=pod_conditions)
def pod_row(pod: Obj, now: datetime.datetime) -> list[Cell]:
    summary = summarize_pod(pod)
    restarts = str(summary.restarts)
    if summary.restarts and summary.last_restart is not None:
        restarts = f"{summary.restarts} ({between(summary.last_restart, now)} ago)"
    return [
        name(pod),
        f"{summary.ready}/{summary.total}",
        summary.reason,
        restarts,
        age(pod, now),
        _first_pod_ip(mapping(pod.get("status"))) or "<none>",
        dig(pod, "spec", "nodeName") or "<none>",
        dig(pod, "status", "nominatedNodeName") or "<none>",
        _readiness_gates(pod),
    ]


# --- PodTemplate, ReplicationController ------------------------------------------------------


@printer(
    "",
    "PodTemplate",
    (NAME, CONTAINERS, IMAGES, Column("Pod Labels", "string", "The labels for the pod template.")),
)
def pod_template_row(obj: Obj, now: datetime.datetime) -> list[Cell]:
    names, images = container_cells(dig(obj, "template", "spec", "containers"))
    return [name(obj), names, images, format_labels(dig(obj, "template", "metadata", "labels"))]


RC_COLUMNS = (
    NAME,
    Column("Desired", "integer", swagger("core/v1 ReplicationControllerSpec.replicas")),
    Column("Current", "integer", swagger("core/v1 ReplicationControllerStatus.replicas")),
    Column("Ready", "integer", swagger("core/v1 ReplicationControllerStatus.readyReplicas")),
    AGE,
    WIDE_CONTAINERS,
    WIDE_IMAGES,
    Column("Selector", "string", swagger("core/v1 ReplicationControllerSpec.selector"), priority=1),
)


@printer("", "ReplicationController", RC_COLUMNS)
def replication_controller_row(obj: Obj, now: datetime.datetime) -> list[Cell]:
    names, images = container_cells(dig(obj, "spec", "template", "spec", "containers"))
    return [
        name(obj),
        integer(dig(obj, "spec", "replicas")),
        integer(dig(obj, "status", "replicas")),
        integer(dig(obj, "status", "readyReplicas")),
        age(obj, now),
        names,
        images,
        format_labels(dig(obj, "spec", "selector")),
    ]


# --- Service, Endpoints ----------------------------------------------------------------------

SERVICE_COLUMNS = (
    NAME,
    Column("Type", "string", swagger("core/v1 ServiceSpec.type")),
    Column("Cluster-IP", "string", swagger("core/v1 ServiceSpec.clusterIP")),
    Column("External-IP", "string", swagger("core/v1 ServiceSpec.externalIPs")),
    Column("Port(s)", "string", swagger("core/v1 ServiceSpec.ports")),
    AGE,
    Column("Selector", "string", swagger("core/v1 ServiceSpec.selector"), priority=1),
)


def _service_external_ip(svc: Obj) -> str:
    spec = mapping(svc.get("spec"))
    external_ips = [str(ip) for ip in seq(spec.get("externalIPs"))]
    svc_type = spec.get("type")
    if svc_type in ("ClusterIP", "NodePort"):
        return ",".join(external_ips) or "<none>"
    if svc_type == "LoadBalancer":
        lb_ips = load_balancer_ingress(dig(svc, "status", "loadBalancer"))
        if external_ips:
            return ",".join(([*lb_ips.split(",")] if lb_ips else []) + external_ips)
        return lb_ips or "<pending>"
    if svc_type == "ExternalName":
        return str(spec.get("externalName") or "")
    return "<unknown>"


def _service_ports(ports: Any) -> str:
    pieces = []
    for port in seq(ports):
        number, protocol = integer(dig(port, "port")), dig(port, "protocol", default="")
        node_port = integer(dig(port, "nodePort"))
        pieces.append(f"{number}:{node_port}/{protocol}" if node_port > 0 else f"{number}/{protocol}")
    return ",".join(pieces)


@printer("", "Service", SERVICE_COLUMNS)
def service_row(svc: Obj, now: datetime.datetime) -> list[Cell]:
    spec = mapping(svc.get("spec"))
    # Converting to the internal type keeps clusterIP authoritative over clusterIPs.
    cluster_ip = spec.get("clusterIP") or next(iter(seq(spec.get("clusterIPs"))), None) or "<none>"
    return [
        name(svc),
        str(spec.get("type") or ""),
        cluster_ip,
        _service_external_ip(svc),
        _service_ports(spec.get("ports")) or "<none>",
        age(svc, now),
        format_labels(spec.get("selector")),
    ]


def format_endpoints(subsets: Any, limit: int = 3) -> str:
    """Upstream ``formatEndpoints``: up to three ``ip:port`` (or bare IPs) and `` + N more...``."""
    if not seq(subsets):
        return "<none>"
    shown: list[str] = []
    count = 0
    more = False
    for subset in seq(subsets):
        addresses = [str(dig(a, "ip", default="")) for a in seq(dig(subset, "addresses"))]
        ports = seq(dig(subset, "ports"))
        if not ports:  # a headless service without ports
            count += len(addresses)
            for ip in addresses:
                if len(shown) == limit:
                    more = True
                    break
                shown.append(ip)
            continue
        for port in ports:
            count += len(addresses)
            for ip in addresses:
                if len(shown) == limit:
                    more = True
                    break
                shown.append(join_host_port(ip, integer(dig(port, "port"))))
    text = ",".join(shown)
    if more:
        return f"{text} + {count - limit} more..."
    return text


@printer("", "Endpoints", (NAME, Column("Endpoints", "string", swagger("core/v1 Endpoints.subsets")), AGE))
def endpoints_row(obj: Obj, now: datetime.datetime) -> list[Cell]:
    return [name(obj), format_endpoints(obj.get("subsets")), age(obj, now)]


# --- Node ------------------------------------------------------------------------------------

NODE_COLUMNS = (
    NAME,
    Column("Status", "string", "The status of the node"),
    Column("Roles", "string", "The roles of the node"),
    AGE,
    Column("Version", "string", swagger("core/v1 NodeSystemInfo.kubeletVersion")),
    Column("Internal-IP", "string", swagger("core/v1 NodeStatus.addresses"), priority=1),
    Column("External-IP", "string", swagger("core/v1 NodeStatus.addresses"), priority=1),
    Column("OS-Image", "string", swagger("core/v1 NodeSystemInfo.osImage"), priority=1),
    Column("Kernel-Version", "string", swagger("core/v1 NodeSystemInfo.kernelVersion"), priority=1),
    Column(
        "Container-Runtime", "string", swagger("core/v1 NodeSystemInfo.containerRuntimeVersion"), priority=1
    ),
)

_ROLE_PREFIX = "node-role.kubernetes.io/"
_ROLE_LABEL = "kubernetes.io/role"


def node_roles(labels: Any) -> list[str]:
    """Roles from ``node-role.kubernetes.io/<role>`` label keys and ``kubernetes.io/role=<role>``."""
    roles = set()
    for key, value in mapping(labels).items():
        if key.startswith(_ROLE_PREFIX):
            if key[len(_ROLE_PREFIX) :]:
                roles.add(key[len(_ROLE_PREFIX) :])
        elif key == _ROLE_LABEL and value:
            roles.add(str(value))
    return sorted(roles)


def node_status(node: Obj) -> str:
    ready = None
    for condition in seq(dig(node, "status", "conditions")):
        if dig(condition, "type") == "Ready":
            ready = condition  # the last one wins, as in upstream's map
    status = ["Unknown"] if ready is None else ["Ready" if dig(ready, "status") == "True" else "NotReady"]
    if dig(node, "spec", "unschedulable") is True:
        status.append("SchedulingDisabled")
    return ",".join(status)


def _node_address(node: Obj, address_type: str) -> str:
    for address in seq(dig(node, "status", "addresses")):
        if dig(address, "type") == address_type:
            return str(dig(address, "address", default=""))
    return "<none>"


@printer("", "Node", NODE_COLUMNS)
def node_row(node: Obj, now: datetime.datetime) -> list[Cell]:
    info = mapping(dig(node, "status", "nodeInfo"))
    return [
        name(node),
        node_status(node),
        ",".join(node_roles(dig(node, "metadata", "labels"))) or "<none>",
        age(node, now),
        str(info.get("kubeletVersion") or ""),
        _node_address(node, "InternalIP"),
        _node_address(node, "ExternalIP"),
        info.get("osImage") or "<unknown>",
        info.get("kernelVersion") or "<unknown>",
        info.get("containerRuntimeVersion") or "<unknown>",
    ]


# --- Event -----------------------------------------------------------------------------------

EVENT_COLUMNS = (
    Column("Last Seen", "string", swagger("core/v1 Event.lastTimestamp")),
    Column("Type", "string", swagger("core/v1 Event.type")),
    Column("Reason", "string", swagger("core/v1 Event.reason")),
    Column("Object", "string", swagger("core/v1 Event.involvedObject")),
    Column("Subobject", "string", swagger("core/v1 ObjectReference.fieldPath"), priority=1),
    Column("Source", "string", swagger("core/v1 Event.source"), priority=1),
    Column("Message", "string", swagger("core/v1 Event.message")),
    Column("First Seen", "string", swagger("core/v1 Event.firstTimestamp"), priority=1),
    Column("Count", "string", swagger("core/v1 Event.count"), priority=1),
    Column("Name", "string", swagger("meta/v1 ObjectMeta.name"), priority=1, format="name"),
)


@dataclass
class EventFields:
    """The fields of upstream's internal Event that its printer reads.

    core/v1 and events.k8s.io/v1 Events are two views of one stored object; each group adapts its
    JSON to these fields, as upstream converts both to the internal type before printing.
    """

    name: str
    first_timestamp: Any
    last_timestamp: Any
    event_time: Any
    count: int
    series: Mapping[str, Any] | None
    involved_object: Mapping[str, Any]
    type: str
    reason: str
    message: str
    source: Mapping[str, Any]
    reporting_controller: str
    reporting_instance: str


def event_row(event: EventFields, now: datetime.datetime) -> list[Cell]:
    first_seen = since(event.first_timestamp, now)
    if parse_time(event.first_timestamp) is None:
        first_seen = since(event.event_time, now)
    last_seen = since(event.last_timestamp, now)
    if parse_time(event.last_timestamp) is None:
        last_seen = first_seen
    count = event.count
    if event.series is not None:
        last_seen = since(event.series.get("lastObservedTime"), now)
        count = integer(event.series.get("count"))
    elif count == 0:
        count = 1  # singleton events carry no count in the events.k8s.io API
    kind = str(event.involved_object.get("kind") or "").lower()
    involved_name = event.involved_object.get("name")
    component = event.source.get("component") or event.reporting_controller
    instance = event.source.get("host") or event.reporting_instance
    return [
        last_seen,
        event.type,
        event.reason,
        f"{kind}/{involved_name}" if involved_name else kind,
        str(event.involved_object.get("fieldPath") or ""),
        f"{component}, {instance}" if instance else str(component or ""),
        event.message.strip(),
        first_seen,
        count,
        event.name,
    ]


@printer("", "Event", EVENT_COLUMNS)
def core_event_row(obj: Obj, now: datetime.datetime) -> list[Cell]:
    series = obj.get("series")
    return event_row(
        EventFields(
            name=name(obj),
            first_timestamp=obj.get("firstTimestamp"),
            last_timestamp=obj.get("lastTimestamp"),
            event_time=obj.get("eventTime"),
            count=integer(obj.get("count")),
            series=series if isinstance(series, Mapping) else None,
            involved_object=mapping(obj.get("involvedObject")),
            type=str(obj.get("type") or ""),
            reason=str(obj.get("reason") or ""),
            message=str(obj.get("message") or ""),
            source=mapping(obj.get("source")),
            reporting_controller=str(obj.get("reportingComponent") or ""),
            reporting_instance=str(obj.get("reportingInstance") or ""),
        ),
        now,
    )


# --- Namespace, Secret, ConfigMap, ServiceAccount --------------------------------------------


@printer("", "Namespace", (NAME, Column("Status", "string", "The status of the namespace"), AGE))
def namespace_row(obj: Obj, now: datetime.datetime) -> list[Cell]:
    return [name(obj), str(dig(obj, "status", "phase", default="")), age(obj, now)]


SECRET_COLUMNS = (
    NAME,
    Column("Type", "string", swagger("core/v1 Secret.type")),
    Column("Data", "string", swagger("core/v1 Secret.data")),
    AGE,
)


@printer("", "Secret", SECRET_COLUMNS)
def secret_row(obj: Obj, now: datetime.datetime) -> list[Cell]:
    # Upstream declares DATA a string column yet sends the count as an integer.
    return [name(obj), str(obj.get("type") or ""), len(mapping(obj.get("data"))), age(obj, now)]


@printer("", "ConfigMap", (NAME, Column("Data", "string", swagger("core/v1 ConfigMap.data")), AGE))
def config_map_row(obj: Obj, now: datetime.datetime) -> list[Cell]:
    entries = len(mapping(obj.get("data"))) + len(mapping(obj.get("binaryData")))
    return [name(obj), entries, age(obj, now)]


@printer(
    "", "ServiceAccount", (NAME, Column("Secrets", "string", swagger("core/v1 ServiceAccount.secrets")), AGE)
)
def service_account_row(obj: Obj, now: datetime.datetime) -> list[Cell]:
    return [name(obj), len(seq(obj.get("secrets"))), age(obj, now)]


# --- PersistentVolume, PersistentVolumeClaim -------------------------------------------------

_ACCESS_MODES = (
    ("ReadWriteOnce", "RWO"),
    ("ReadOnlyMany", "ROX"),
    ("ReadWriteMany", "RWX"),
    ("ReadWriteOncePod", "RWOP"),
)
_BETA_STORAGE_CLASS = "volume.beta.kubernetes.io/storage-class"


def access_modes(modes: Any) -> str:
    present = set(seq(modes))
    return ",".join(short for mode, short in _ACCESS_MODES if mode in present)


def _storage_class(obj: Obj, spec_class: Any) -> str:
    annotations = mapping(dig(obj, "metadata", "annotations"))
    if _BETA_STORAGE_CLASS in annotations:
        return str(annotations[_BETA_STORAGE_CLASS])
    return str(spec_class or "")


def _phase_or_terminating(obj: Obj) -> str:
    if dig(obj, "metadata", "deletionTimestamp") is not None:
        return "Terminating"
    return str(dig(obj, "status", "phase", default=""))


PV_COLUMNS = (
    NAME,
    Column("Capacity", "string", swagger("core/v1 PersistentVolumeSpec.capacity")),
    Column("Access Modes", "string", swagger("core/v1 PersistentVolumeSpec.accessModes")),
    Column("Reclaim Policy", "string", swagger("core/v1 PersistentVolumeSpec.persistentVolumeReclaimPolicy")),
    Column("Status", "string", swagger("core/v1 PersistentVolumeStatus.phase")),
    Column("Claim", "string", swagger("core/v1 PersistentVolumeSpec.claimRef")),
    Column("StorageClass", "string", "StorageClass of the pv"),
    Column("VolumeAttributesClass", "string", "VolumeAttributesClass of the pv"),
    Column("Reason", "string", swagger("core/v1 PersistentVolumeStatus.reason")),
    AGE,
    Column("VolumeMode", "string", swagger("core/v1 PersistentVolumeSpec.volumeMode"), priority=1),
)


@printer("", "PersistentVolume", PV_COLUMNS)
def persistent_volume_row(obj: Obj, now: datetime.datetime) -> list[Cell]:
    spec = mapping(obj.get("spec"))
    claim = spec.get("claimRef")
    claim_cell = ""
    if isinstance(claim, Mapping):
        claim_cell = f"{claim.get('namespace') or ''}/{claim.get('name') or ''}"
    return [
        name(obj),
        quantity(dig(spec, "capacity", "storage")),
        access_modes(spec.get("accessModes")),
        str(spec.get("persistentVolumeReclaimPolicy") or ""),
        _phase_or_terminating(obj),
        claim_cell,
        _storage_class(obj, spec.get("storageClassName")),
        spec.get("volumeAttributesClassName") or "<unset>",
        str(dig(obj, "status", "reason", default="")),
        age(obj, now),
        spec.get("volumeMode") or "<unset>",
    ]


PVC_COLUMNS = (
    NAME,
    Column("Status", "string", swagger("core/v1 PersistentVolumeClaimStatus.phase")),
    Column("Volume", "string", swagger("core/v1 PersistentVolumeClaimSpec.volumeName")),
    Column("Capacity", "string", swagger("core/v1 PersistentVolumeClaimStatus.capacity")),
    Column("Access Modes", "string", swagger("core/v1 PersistentVolumeClaimStatus.accessModes")),
    Column("StorageClass", "string", "StorageClass of the pvc"),
    Column("VolumeAttributesClass", "string", "VolumeAttributesClass of the pvc"),
    AGE,
    Column("VolumeMode", "string", swagger("core/v1 PersistentVolumeClaimSpec.volumeMode"), priority=1),
)


@printer("", "PersistentVolumeClaim", PVC_COLUMNS)
def persistent_volume_claim_row(obj: Obj, now: datetime.datetime) -> list[Cell]:
    spec = mapping(obj.get("spec"))
    volume = str(spec.get("volumeName") or "")
    capacity = modes = ""
    if volume:  # until bound, the claim has no capacity or access modes of its own
        modes = access_modes(dig(obj, "status", "accessModes"))
        capacity = quantity(dig(obj, "status", "capacity", "storage"))
    return [
        name(obj),
        _phase_or_terminating(obj),
        volume,
        capacity,
        modes,
        _storage_class(obj, spec.get("storageClassName")),
        spec.get("volumeAttributesClassName") or "<unset>",
        age(obj, now),
        spec.get("volumeMode") or "<unset>",
    ]


# --- ResourceQuota, ComponentStatus, LimitRange ----------------------------------------------

RESOURCE_QUOTA_COLUMNS = (
    NAME,
    Column(
        "Request", "string", "Request represents a minimum amount of cpu/memory that a container may consume."
    ),
    Column(
        "Limit",
        "string",
        "Limits control the maximum amount of cpu/memory that a container may use independent of"
        " contention on the node.",
    ),
    AGE,
)


@printer("", "ResourceQuota", RESOURCE_QUOTA_COLUMNS)
def resource_quota_row(obj: Obj, now: datetime.datetime) -> list[Cell]:
    hard = mapping(dig(obj, "status", "hard"))
    used = mapping(dig(obj, "status", "used"))
    requests: list[str] = []
    limits: list[str] = []
    for resource in sorted(hard):
        column = limits if resource.split(".")[0] == "limits" and "." in resource else requests
        column.append(f"{resource}: {quantity(used.get(resource))}/{quantity(hard[resource])}")
    return [name(obj), ", ".join(requests), ", ".join(limits), age(obj, now)]


COMPONENT_STATUS_COLUMNS = (
    NAME,
    Column("Status", "string", "Status of the component conditions"),
    Column("Message", "string", "Message of the component conditions"),
    Column("Error", "string", "Error of the component conditions"),
)


@printer("", "ComponentStatus", COMPONENT_STATUS_COLUMNS)
def component_status_row(obj: Obj, now: datetime.datetime) -> list[Cell]:
    for condition in seq(obj.get("conditions")):
        if dig(condition, "type") == "Healthy":
            health = "Healthy" if dig(condition, "status") == "True" else "Unhealthy"
            return [
                name(obj),
                health,
                str(dig(condition, "message", default="")),
                str(dig(condition, "error", default="")),
            ]
    return [name(obj), "Unknown", "", ""]


generic("", "LimitRange")
