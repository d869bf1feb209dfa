"""Server-side printing must match kube-apiserver 1.33 cell for cell.

Expected values come from upstream's printers (``pkg/printers/internalversion/printers.go``) and
``k8s.io/apimachinery/pkg/util/duration``: kubectl shows the server's cells verbatim, so any
difference here is a difference a user sees next to a real cluster.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from kubeherd.api.printers import (
    column_definitions,
    human_duration,
    registered_kinds,
    row_cells,
    row_conditions,
)

NOW = datetime.datetime(2025, 6, 1, 12, 0, 0, tzinfo=datetime.UTC)
MS = 0.001


def ago(**delta: float) -> str:
    return (NOW - datetime.timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


def meta(name: str = "x", created: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"name": name, "creationTimestamp": created or ago(days=3, hours=5), **extra}


def cells(group: str, kind: str, obj: dict[str, Any]) -> list[Any]:
    return row_cells(group, kind, obj, NOW)


# --- HumanDuration: upstream's own table (duration_test.go) ----------------------------------

HOUR, DAY, YEAR = 3600, 86400, 365 * 86400


@pytest.mark.parametrize(
    ("seconds", "want"),
    [
        # TestHumanDuration
        (1, "1s"),
        (70, "70s"),
        (190, "3m10s"),
        (70 * 60, "70m"),
        (47 * HOUR, "47h"),
        (49 * HOUR, "2d1h"),
        ((8 * 24 + 2) * HOUR, "8d"),
        (367 * DAY, "367d"),
        ((365 * 2 * 24 + 25) * HOUR, "2y1d"),
        ((365 * 8 * 24 + 2) * HOUR, "8y"),
        # TestHumanDurationBoundaries
        (-2, "<invalid>"),
        (-2 + 1e-9, "0s"),
        (0, "0s"),
        (1 - MS, "0s"),
        (120 - MS, "119s"),
        (120, "2m"),
        (121, "2m1s"),
        (600 - MS, "9m59s"),
        (600, "10m"),
        (601, "10m"),
        (3 * HOUR - MS, "179m"),
        (3 * HOUR, "3h"),
        (3 * HOUR + 60, "3h1m"),
        (8 * HOUR - MS, "7h59m"),
        (8 * HOUR, "8h"),
        (8 * HOUR + 59 * 60, "8h"),
        (2 * DAY - MS, "47h"),
        (2 * DAY, "2d"),
        (2 * DAY + HOUR, "2d1h"),
        (8 * DAY - MS, "7d23h"),
        (8 * DAY, "8d"),
        (8 * DAY + 23 * HOUR, "8d"),
        (2 * YEAR - MS, "729d"),
        (2 * YEAR, "2y"),
        (2 * YEAR + 23 * HOUR, "2y"),
        (2 * YEAR + 23 * HOUR + 59 * 60, "2y"),
        (2 * YEAR + DAY - MS, "2y"),
        (2 * YEAR + DAY, "2y1d"),
        (3 * YEAR, "3y"),
        (7 * YEAR, "7y"),
        (8 * YEAR - MS, "7y364d"),
        (8 * YEAR, "8y"),
        (8 * YEAR + 364 * DAY, "8y"),
        (9 * YEAR, "9y"),
    ],
)
def test_human_duration_matches_upstream(seconds: float, want: str) -> None:
    assert human_duration(seconds) == want


# --- columns ---------------------------------------------------------------------------------

# Upstream's column names in order; a leading "*" marks a priority-1 (-o wide) column.
HEADERS: dict[tuple[str, str], str] = {
    ("", "Pod"): "Name|Ready|Status|Restarts|Age|*IP|*Node|*Nominated Node|*Readiness Gates",
    (
        "",
        "Node",
    ): "Name|Status|Roles|Age|Version|*Internal-IP|*External-IP|*OS-Image|*Kernel-Version|*Container-Runtime",
    ("", "Namespace"): "Name|Status|Age",
    ("", "Service"): "Name|Type|Cluster-IP|External-IP|Port(s)|Age|*Selector",
    ("", "Endpoints"): "Name|Endpoints|Age",
    ("", "ConfigMap"): "Name|Data|Age",
    ("", "Secret"): "Name|Type|Data|Age",
    ("", "ServiceAccount"): "Name|Secrets|Age",
    ("", "Event"): "Last Seen|Type|Reason|Object|*Subobject|*Source|Message|*First Seen|*Count|*Name",
    (
        "events.k8s.io",
        "Event",
    ): "Last Seen|Type|Reason|Object|*Subobject|*Source|Message|*First Seen|*Count|*Name",
    ("", "PersistentVolume"): "Name|Capacity|Access Modes|Reclaim Policy|Status|Claim|StorageClass|"
    "VolumeAttributesClass|Reason|Age|*VolumeMode",
    (
        "",
        "PersistentVolumeClaim",
    ): "Name|Status|Volume|Capacity|Access Modes|StorageClass|VolumeAttributesClass|Age|*VolumeMode",
    ("", "ReplicationController"): "Name|Desired|Current|Ready|Age|*Containers|*Images|*Selector",
    ("", "ResourceQuota"): "Name|Request|Limit|Age",
    ("", "LimitRange"): "Name|Created At",
    ("", "PodTemplate"): "Name|Containers|Images|Pod Labels",
    ("", "ComponentStatus"): "Name|Status|Message|Error",
    ("apps", "Deployment"): "Name|Ready|Up-to-date|Available|Age|*Containers|*Images|*Selector",
    ("apps", "ReplicaSet"): "Name|Desired|Current|Ready|Age|*Containers|*Images|*Selector",
    ("apps", "StatefulSet"): "Name|Ready|Age|*Containers|*Images",
    ("apps", "DaemonSet"): "Name|Desired|Current|Ready|Up-to-date|Available|Node Selector|Age|"
    "*Containers|*Images|*Selector",
    ("apps", "ControllerRevision"): "Name|Controller|Revision|Age",
    ("batch", "Job"): "Name|Status|Completions|Duration|Age|*Containers|*Images|*Selector",
    (
        "batch",
        "CronJob",
    ): "Name|Schedule|Timezone|Suspend|Active|Last Schedule|Age|*Containers|*Images|*Selector",
    ("autoscaling", "HorizontalPodAutoscaler"): "Name|Reference|Targets|MinPods|MaxPods|Replicas|Age",
    ("policy", "PodDisruptionBudget"): "Name|Min Available|Max Unavailable|Allowed Disruptions|Age",
    ("networking.k8s.io", "Ingress"): "Name|Class|Hosts|Address|Ports|Age",
    ("networking.k8s.io", "IngressClass"): "Name|Controller|Parameters|Age",
    ("networking.k8s.io", "NetworkPolicy"): "Name|Pod-Selector|Age",
    ("rbac.authorization.k8s.io", "Role"): "Name|Created At",
    ("rbac.authorization.k8s.io", "ClusterRole"): "Name|Created At",
    ("rbac.authorization.k8s.io", "RoleBinding"): "Name|Role|Age|*Users|*Groups|*ServiceAccounts",
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): "Name|Role|Age|*Users|*Groups|*ServiceAccounts",
    (
        "storage.k8s.io",
        "StorageClass",
    ): "Name|Provisioner|ReclaimPolicy|VolumeBindingMode|AllowVolumeExpansion|Age",
    ("storage.k8s.io", "CSIDriver"): "Name|AttachRequired|PodInfoOnMount|StorageCapacity|TokenRequests|"
    "RequiresRepublish|Modes|Age",
    ("storage.k8s.io", "CSINode"): "Name|Drivers|Age",
    ("storage.k8s.io", "VolumeAttachment"): "Name|Attacher|PV|Node|Attached|Age",
    ("coordination.k8s.io", "Lease"): "Name|Holder|Age",
    ("discovery.k8s.io", "EndpointSlice"): "Name|AddressType|Ports|Endpoints|Age",
    ("scheduling.k8s.io", "PriorityClass"): "Name|Value|Global-Default|Age|PreemptionPolicy",
    ("node.k8s.io", "RuntimeClass"): "Name|Handler|Age",
    (
        "certificates.k8s.io",
        "CertificateSigningRequest",
    ): "Name|Age|SignerName|Requestor|RequestedDuration|Condition",
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"): "Name|Webhooks|Age",
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"): "Name|Webhooks|Age",
    ("apiextensions.k8s.io", "CustomResourceDefinition"): "Name|Created At",
    ("apiregistration.k8s.io", "APIService"): "Name|Service|Available|Age",
}


@pytest.mark.parametrize(("group", "kind"), sorted(HEADERS))
def test_columns_in_upstream_order_and_priority(group: str, kind: str) -> None:
    got = "|".join(("*" if c["priority"] else "") + c["name"] for c in column_definitions(group, kind))
    assert got == HEADERS[(group, kind)]


def test_column_definitions_carry_upstream_types_formats_and_descriptions() -> None:
    pod = {c["name"]: c for c in column_definitions("", "Pod")}
    assert pod["Name"] == {
        "name": "Name",
        "type": "string",
        "format": "name",
        "description": pod["Name"]["description"],
        "priority": 0,
    }
    assert pod["Name"]["description"].startswith("Name must be unique within a namespace.")
    assert pod["Age"]["description"].startswith(
        "CreationTimestamp is a timestamp representing the server time"
    )
    assert pod["Restarts"]["type"] == "string"  # it carries "(5m ago)" since 1.22
    assert pod["IP"]["description"].startswith("podIP address allocated to the pod.")
    types = {c["name"]: c["type"] for c in column_definitions("batch", "CronJob")}
    assert (types["Suspend"], types["Active"]) == ("boolean", "integer")
    attacher = column_definitions("storage.k8s.io", "VolumeAttachment")[1]
    assert (attacher["name"], attacher["format"]) == ("Attacher", "name")
    # Upstream looks this description up on ObjectMeta, which lacks the field, so it is empty.
    assert column_definitions("node.k8s.io", "RuntimeClass")[1]["description"] == ""
    assert column_definitions("apps", "ControllerRevision")[2]["description"] == (
        "revision indicates the revision of the state represented by Data."
    )


def test_unregistered_kinds_print_like_a_custom_resource() -> None:
    columns = column_definitions("example.com", "Widget")
    assert [(c["name"], c["type"], c["format"], c["priority"]) for c in columns] == [
        ("Name", "string", "name", 0),
        ("Age", "date", "", 0),
    ]
    assert columns[1]["description"] == column_definitions("", "Pod")[4]["description"]
    assert cells("example.com", "Widget", {"metadata": meta("w1")}) == ["w1", "3d5h"]
    assert cells("example.com", "Widget", {"metadata": {"name": "w2"}}) == ["w2", None]


def test_kinds_without_an_upstream_printer_get_the_generic_table() -> None:
    crd = {"metadata": meta("widgets.example.com", created="2024-02-29T08:30:00Z")}
    assert column_definitions("apiextensions.k8s.io", "CustomResourceDefinition")[1]["type"] == "date"
    assert cells("apiextensions.k8s.io", "CustomResourceDefinition", crd) == [
        "widgets.example.com",
        "2024-02-29T08:30:00Z",
    ]
    assert cells("", "LimitRange", {"metadata": {"name": "lr"}}) == ["lr", "0001-01-01T00:00:00Z"]
    assert cells("rbac.authorization.k8s.io", "Role", {"metadata": meta("r")})[0] == "r"


@pytest.mark.parametrize(("group", "kind"), registered_kinds())
def test_every_printer_survives_a_bare_object_with_one_cell_per_column(group: str, kind: str) -> None:
    row = cells(group, kind, {"apiVersion": "v1", "kind": kind, "metadata": {"name": "bare"}})
    assert len(row) == len(column_definitions(group, kind))
    assert all(isinstance(cell, str | int | bool) for cell in row)


def test_age_is_unknown_without_a_creation_timestamp() -> None:
    assert cells("", "Namespace", {"metadata": {"name": "ns"}, "status": {"phase": "Active"}}) == [
        "ns",
        "Active",
        "<unknown>",
    ]


# --- Pod STATUS / READY / RESTARTS -----------------------------------------------------------


def pod(
    status: dict[str, Any],
    containers: int = 1,
    init: list[dict[str, Any]] | None = None,
    deleting: bool = False,
    **spec: Any,
) -> dict[str, Any]:
    metadata = meta("p")
    if deleting:
        metadata["deletionTimestamp"] = ago(seconds=30)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": {
            "containers": [{"name": f"c{i}", "image": "nginx"} for i in range(containers)],
            "initContainers": init or [],
            **spec,
        },
        "status": status,
    }


def running(name: str = "c0", ready: bool = True, restarts: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "ready": ready,
        "restartCount": restarts,
        "state": {"running": {"startedAt": ago(hours=1)}},
        **extra,
    }


def waiting(reason: str, name: str = "c0", restarts: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "ready": False,
        "restartCount": restarts,
        "state": {"waiting": {"reason": reason}},
        **extra,
    }


def terminated(name: str = "c0", restarts: int = 0, **how: Any) -> dict[str, Any]:
    return {"name": name, "ready": False, "restartCount": restarts, "state": {"terminated": how}}


def last_exit(minutes: float) -> dict[str, Any]:
    return {
        "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": ago(minutes=minutes)}}
    }


INIT2 = [{"name": "i0", "image": "busybox"}, {"name": "i1", "image": "busybox"}]
SIDECAR = [{"name": "proxy", "image": "envoy", "restartPolicy": "Always"}]


@pytest.mark.parametrize(
    ("obj", "ready", "status", "restarts"),
    [
        pytest.param(pod({"phase": "Pending"}), "0/1", "Pending", "0", id="pending-no-statuses"),
        pytest.param(
            pod({"phase": "Running", "containerStatuses": [running()]}), "1/1", "Running", "0", id="running"
        ),
        pytest.param(
            pod(
                {
                    "phase": "Running",
                    "containerStatuses": [waiting("CrashLoopBackOff", restarts=5, **last_exit(5))],
                }
            ),
            "0/1",
            "CrashLoopBackOff",
            "5 (5m ago)",
            id="crashloop",
        ),
        pytest.param(
            pod({"phase": "Pending", "containerStatuses": [waiting("ImagePullBackOff")]}),
            "0/1",
            "ImagePullBackOff",
            "0",
            id="image-pull",
        ),
        pytest.param(
            pod({"phase": "Running", "containerStatuses": [running(restarts=3)]}),
            "1/1",
            "Running",
            "3",
            id="restarts-without-last-state-have-no-ago",
        ),
        pytest.param(
            pod(
                {
                    "phase": "Pending",
                    "initContainerStatuses": [
                        waiting("PodInitializing", "i0"),
                        waiting("PodInitializing", "i1"),
                    ],
                },
                init=INIT2,
            ),
            "0/1",
            "Init:0/2",
            "0",
            id="init-0-of-2",
        ),
        pytest.param(
            pod(
                {
                    "phase": "Pending",
                    "initContainerStatuses": [
                        terminated("i0", exitCode=0, reason="Completed"),
                        running("i1", ready=False),
                    ],
                },
                init=INIT2,
            ),
            "0/1",
            "Init:1/2",
            "0",
            id="init-1-of-2",
        ),
        pytest.param(
            pod(
                {
                    "phase": "Pending",
                    "initContainerStatuses": [terminated("i0", restarts=2, exitCode=1, reason="Error")],
                },
                init=INIT2[:1],
            ),
            "0/1",
            "Init:Error",
            "2",
            id="init-error",
        ),
        pytest.param(
            pod(
                {"phase": "Pending", "initContainerStatuses": [terminated("i0", exitCode=2)]}, init=INIT2[:1]
            ),
            "0/1",
            "Init:ExitCode:2",
            "0",
            id="init-exit-code",
        ),
        pytest.param(
            pod(
                {"phase": "Pending", "initContainerStatuses": [terminated("i0", exitCode=137, signal=9)]},
                init=INIT2[:1],
            ),
            "0/1",
            "Init:Signal:9",
            "0",
            id="init-signal",
        ),
        pytest.param(
            pod(
                {
                    "phase": "Pending",
                    "initContainerStatuses": [waiting("CrashLoopBackOff", "i0", restarts=4, **last_exit(2))],
                },
                init=INIT2[:1],
            ),
            "0/1",
            "Init:CrashLoopBackOff",
            "4 (2m ago)",
            id="init-crashloop-counts-init-restarts",
        ),
        pytest.param(
            pod(
                {
                    "phase": "Running",
                    "conditions": [{"type": "Initialized", "status": "True"}],
                    "initContainerStatuses": [terminated("i0", restarts=3, exitCode=0, reason="Completed")],
                    "containerStatuses": [running()],
                },
                init=INIT2[:1],
            ),
            "1/1",
            "Running",
            "0",
            id="finished-init-restarts-stop-counting",
        ),
        pytest.param(
            pod({"phase": "Succeeded", "containerStatuses": [terminated(exitCode=0, reason="Completed")]}),
            "0/1",
            "Completed",
            "0",
            id="completed",
        ),
        pytest.param(
            pod(
                {
                    "phase": "Running",
                    "conditions": [{"type": "Ready", "status": "True"}],
                    "containerStatuses": [running("c0"), terminated("c1", exitCode=0, reason="Completed")],
                },
                containers=2,
            ),
            "1/2",
            "Running",
            "0",
            id="completed-with-a-running-container-and-ready",
        ),
        pytest.param(
            pod(
                {
                    "phase": "Running",
                    "conditions": [{"type": "Ready", "status": "False"}],
                    "containerStatuses": [running("c0"), terminated("c1", exitCode=0, reason="Completed")],
                },
                containers=2,
            ),
            "1/2",
            "NotReady",
            "0",
            id="completed-with-a-running-container-not-ready",
        ),
        pytest.param(
            pod({"phase": "Running", "containerStatuses": [terminated(exitCode=137)]}),
            "0/1",
            "ExitCode:137",
            "0",
            id="exit-code",
        ),
        pytest.param(
            pod({"phase": "Running", "containerStatuses": [terminated(signal=15)]}),
            "0/1",
            "Signal:15",
            "0",
            id="signal",
        ),
        pytest.param(
            pod({"phase": "Running", "containerStatuses": [running()]}, deleting=True),
            "1/1",
            "Terminating",
            "0",
            id="terminating",
        ),
        pytest.param(
            pod({"phase": "Running", "reason": "NodeLost", "containerStatuses": [running()]}, deleting=True),
            "1/1",
            "Unknown",
            "0",
            id="node-lost",
        ),
        pytest.param(
            pod(
                {"phase": "Succeeded", "containerStatuses": [terminated(exitCode=0, reason="Completed")]},
                deleting=True,
            ),
            "0/1",
            "Completed",
            "0",
            id="deleting-a-finished-pod-is-not-terminating",
        ),
        pytest.param(
            pod({"phase": "Failed", "reason": "Evicted", "message": "low on memory"}),
            "0/1",
            "Evicted",
            "0",
            id="evicted",
        ),
        pytest.param(
            pod(
                {
                    "phase": "Pending",
                    "conditions": [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}],
                }
            ),
            "0/1",
            "SchedulingGated",
            "0",
            id="scheduling-gated",
        ),
        pytest.param(
            pod(
                {
                    "phase": "Running",
                    "conditions": [{"type": "Initialized", "status": "True"}],
                    "initContainerStatuses": [running("proxy", restarts=2, started=True, **last_exit(10))],
                    "containerStatuses": [running(restarts=1, **last_exit(30))],
                },
                init=SIDECAR,
            ),
            "2/2",
            "Running",
            "3 (10m ago)",
            id="sidecar-counts-as-a-container",
        ),
        pytest.param(
            pod(
                {"phase": "Pending", "initContainerStatuses": [running("proxy", ready=False, started=False)]},
                init=SIDECAR,
            ),
            "0/2",
            "Init:0/1",
            "0",
            id="sidecar-not-yet-started",
        ),
    ],
)
def test_pod_ready_status_restarts(obj: dict[str, Any], ready: str, status: str, restarts: str) -> None:
    assert cells("", "Pod", obj)[1:4] == [ready, status, restarts]


def test_pod_row_realistic_with_wide_columns() -> None:
    obj = pod(
        {
            "phase": "Running",
            "podIPs": [{"ip": "10.244.1.7"}, {"ip": "fd00::7"}],
            "nominatedNodeName": "node-b",
            "conditions": [{"type": "Ready", "status": "True"}, {"type": "example.com/lb", "status": "True"}],
            "containerStatuses": [running("c0", restarts=2, **last_exit(5)), running("c1")],
        },
        containers=2,
        nodeName="node-a",
        readinessGates=[{"conditionType": "example.com/lb"}, {"conditionType": "example.com/dns"}],
    )
    assert cells("", "Pod", obj) == [
        "p",
        "2/2",
        "Running",
        "2 (5m ago)",
        "3d5h",
        "10.244.1.7",
        "node-a",
        "node-b",
        "1/2",
    ]


def test_pod_wide_columns_default_to_none() -> None:
    assert cells("", "Pod", pod({"phase": "Pending"}))[5:] == ["<none>", "<none>", "<none>", "<none>"]
    assert cells("", "Pod", pod({"podIP": "10.0.0.1", "podIPs": [{"ip": "10.0.0.2"}]}))[5] == "10.0.0.1"


def test_pod_row_conditions_mark_finished_pods() -> None:
    assert row_conditions("", "Pod", pod({"phase": "Succeeded"})) == [
        {
            "type": "Completed",
            "status": "True",
            "reason": "Succeeded",
            "message": "The pod has completed successfully.",
        }
    ]
    assert row_conditions("", "Pod", pod({"phase": "Failed"}))[0]["message"] == "The pod failed."
    assert row_conditions("", "Pod", pod({"phase": "Running"})) == []
    assert row_conditions("apps", "Deployment", {"metadata": meta()}) == []


# --- Node ------------------------------------------------------------------------------------


def node(
    labels: dict[str, str] | None = None,
    ready: str | None = "True",
    unschedulable: bool = False,
    **status: Any,
) -> dict[str, Any]:
    conditions = [{"type": "MemoryPressure", "status": "False"}]
    if ready is not None:
        conditions.append({"type": "Ready", "status": ready})
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": meta("node-1", labels=labels or {}),
        "spec": {"unschedulable": unschedulable} if unschedulable else {},
        "status": {"conditions": conditions, **status},
    }


@pytest.mark.parametrize(
    ("ready", "unschedulable", "want"),
    [
        ("True", False, "Ready"),
        ("False", False, "NotReady"),
        ("Unknown", False, "NotReady"),
        (None, False, "Unknown"),
        ("True", True, "Ready,SchedulingDisabled"),
        (None, True, "Unknown,SchedulingDisabled"),
    ],
)
def test_node_status(ready: str | None, unschedulable: bool, want: str) -> None:
    assert cells("", "Node", node(ready=ready, unschedulable=unschedulable))[1] == want


@pytest.mark.parametrize(
    ("labels", "want"),
    [
        ({}, "<none>"),
        ({"node-role.kubernetes.io/control-plane": ""}, "control-plane"),
        ({"node-role.kubernetes.io/worker": "", "node-role.kubernetes.io/infra": "true"}, "infra,worker"),
        ({"kubernetes.io/role": "master"}, "master"),
        ({"kubernetes.io/role": "master", "node-role.kubernetes.io/master": ""}, "master"),
        ({"kubernetes.io/role": ""}, "<none>"),
        ({"node-role.kubernetes.io/": ""}, "<none>"),
        ({"kubernetes.io/hostname": "node-1"}, "<none>"),
    ],
)
def test_node_roles(labels: dict[str, str], want: str) -> None:
    assert cells("", "Node", node(labels))[2] == want


def test_node_row_realistic_with_wide_columns() -> None:
    obj = node(
        {"node-role.kubernetes.io/control-plane": ""},
        addresses=[
            {"type": "Hostname", "address": "node-1"},
            {"type": "InternalIP", "address": "192.168.1.10"},
            {"type": "ExternalIP", "address": "203.0.113.4"},
        ],
        nodeInfo={
            "kubeletVersion": "v1.33.1",
            "osImage": "Ubuntu 24.04.2 LTS",
            "kernelVersion": "6.8.0-60-generic",
            "containerRuntimeVersion": "containerd://2.0.5",
        },
    )
    assert cells("", "Node", obj) == [
        "node-1",
        "Ready",
        "control-plane",
        "3d5h",
        "v1.33.1",
        "192.168.1.10",
        "203.0.113.4",
        "Ubuntu 24.04.2 LTS",
        "6.8.0-60-generic",
        "containerd://2.0.5",
    ]
    assert cells("", "Node", node())[4:] == ["", "<none>", "<none>", "<unknown>", "<unknown>", "<unknown>"]


# --- Service ---------------------------------------------------------------------------------


def service(
    svc_type: str,
    ports: list[dict[str, Any]] | None = None,
    lb: list[dict[str, str]] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta("web"),
        "spec": {
            "type": svc_type,
            "clusterIP": "10.96.14.2",
            "clusterIPs": ["10.96.14.2"],
            "ports": ports or [],
            **spec,
        },
        "status": {"loadBalancer": {"ingress": lb}} if lb is not None else {},
    }


HTTP = {"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}


@pytest.mark.parametrize(
    ("obj", "external", "ports"),
    [
        pytest.param(service("ClusterIP", [HTTP]), "<none>", "80/TCP", id="cluster-ip"),
        pytest.param(service("ClusterIP"), "<none>", "<none>", id="no-ports"),
        pytest.param(
            service("ClusterIP", [HTTP], externalIPs=["198.51.100.1", "198.51.100.2"]),
            "198.51.100.1,198.51.100.2",
            "80/TCP",
            id="cluster-ip-external-ips",
        ),
        pytest.param(
            service(
                "NodePort", [{**HTTP, "nodePort": 30080}, {"port": 53, "protocol": "UDP", "nodePort": 31053}]
            ),
            "<none>",
            "80:30080/TCP,53:31053/UDP",
            id="node-port",
        ),
        pytest.param(
            service("LoadBalancer", [{**HTTP, "nodePort": 30080}]),
            "<pending>",
            "80:30080/TCP",
            id="load-balancer-pending",
        ),
        pytest.param(
            service(
                "LoadBalancer",
                [HTTP],
                lb=[{"ip": "203.0.113.9"}, {"hostname": "lb.example.com"}, {"ip": "203.0.113.9"}],
            ),
            "203.0.113.9,lb.example.com",
            "80/TCP",
            id="load-balancer-ingress-sorted-and-distinct",
        ),
        pytest.param(
            service("LoadBalancer", [HTTP], lb=[{"ip": "203.0.113.9"}], externalIPs=["198.51.100.1"]),
            "203.0.113.9,198.51.100.1",
            "80/TCP",
            id="load-balancer-plus-external-ips",
        ),
        pytest.param(
            service("LoadBalancer", [HTTP], externalIPs=["198.51.100.1"]),
            "198.51.100.1",
            "80/TCP",
            id="load-balancer-external-ips-only",
        ),
        pytest.param(
            service("ExternalName", externalName="db.example.com", clusterIP="", clusterIPs=[]),
            "db.example.com",
            "<none>",
            id="external-name",
        ),
    ],
)
def test_service_external_ip_and_ports(obj: dict[str, Any], external: str, ports: str) -> None:
    row = cells("", "Service", obj)
    assert row[3:5] == [external, ports]


def test_service_row_realistic() -> None:
    headless = service(
        "ClusterIP",
        [{"port": 5432, "protocol": "TCP"}],
        clusterIP="None",
        clusterIPs=["None"],
        selector={"app": "db", "tier": "backend"},
    )
    assert cells("", "Service", headless) == [
        "web",
        "ClusterIP",
        "None",
        "<none>",
        "5432/TCP",
        "3d5h",
        "app=db,tier=backend",
    ]
    external = service("ExternalName", externalName="db.example.com", clusterIP="", clusterIPs=[])
    assert cells("", "Service", external)[1:3] == ["ExternalName", "<none>"]
    assert cells("", "Service", external)[-1] == "<none>"


# --- Job -------------------------------------------------------------------------------------


def job(
    conditions: list[dict[str, str]] | None = None, deleting: bool = False, **spec: Any
) -> dict[str, Any]:
    metadata = meta("pi")
    if deleting:
        metadata["deletionTimestamp"] = ago(seconds=5)
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata,
        "spec": {
            "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "0f1e"}},
            "template": {"spec": {"containers": [{"name": "pi", "image": "perl:5.34"}]}},
            **spec,
        },
        "status": {"conditions": conditions or []},
    }


@pytest.mark.parametrize(
    ("obj", "want"),
    [
        (job(), "Running"),
        (
            job([{"type": "Complete", "status": "True"}, {"type": "SuccessCriteriaMet", "status": "True"}]),
            "Complete",
        ),
        (job([{"type": "FailureTarget", "status": "True"}, {"type": "Failed", "status": "True"}]), "Failed"),
        (job([{"type": "Suspended", "status": "True"}]), "Suspended"),
        (job([{"type": "Suspended", "status": "False"}]), "Running"),
        (job([{"type": "FailureTarget", "status": "True"}]), "FailureTarget"),
        (job([{"type": "Suspended", "status": "True"}], deleting=True), "Terminating"),
        (job([{"type": "Complete", "status": "True"}], deleting=True), "Complete"),
    ],
)
def test_job_status(obj: dict[str, Any], want: str) -> None:
    assert cells("batch", "Job", obj)[1] == want


def test_job_completions_and_duration() -> None:
    done = job([{"type": "Complete", "status": "True"}], completions=1)
    done["status"].update(succeeded=1, startTime=ago(minutes=10), completionTime=ago(minutes=9, seconds=15))
    assert cells("batch", "Job", done) == [
        "pi",
        "Complete",
        "1/1",
        "45s",
        "3d5h",
        "pi",
        "perl:5.34",
        "batch.kubernetes.io/controller-uid=0f1e",
    ]
    active = job(completions=5, parallelism=2)
    active["status"].update(succeeded=2, startTime=ago(minutes=3, seconds=20))
    assert cells("batch", "Job", active)[2:4] == ["2/5", "3m20s"]
    work_queue = job(parallelism=3)
    assert cells("batch", "Job", work_queue)[2:4] == ["0/1 of 3", ""]
    assert cells("batch", "Job", job(parallelism=1))[2] == "0/1"


# --- one realistic object per kind -----------------------------------------------------------

TEMPLATE = {
    "metadata": {"labels": {"app": "web"}},
    "spec": {
        "containers": [{"name": "nginx", "image": "nginx:1.27"}, {"name": "sidecar", "image": "envoy:v1"}],
        "nodeSelector": {"kubernetes.io/os": "linux"},
    },
}
SELECTOR = {
    "matchLabels": {"app": "web"},
    "matchExpressions": [{"key": "tier", "operator": "In", "values": ["front", "edge"]}],
}

KIND_CASES: list[tuple[str, str, dict[str, Any], list[Any]]] = [
    (
        "",
        "Namespace",
        {"metadata": meta("team-a"), "status": {"phase": "Terminating"}},
        ["team-a", "Terminating", "3d5h"],
    ),
    (
        "",
        "ConfigMap",
        {"metadata": meta("cfg"), "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}},
        ["cfg", 3, "3d5h"],
    ),
    (
        "",
        "Secret",
        {"metadata": meta("tls"), "type": "kubernetes.io/tls", "data": {"tls.crt": "", "tls.key": ""}},
        ["tls", "kubernetes.io/tls", 2, "3d5h"],
    ),
    (
        "",
        "ServiceAccount",
        {"metadata": meta("default"), "secrets": [{"name": "default-token"}]},
        ["default", 1, "3d5h"],
    ),
    ("", "ServiceAccount", {"metadata": meta("builder")}, ["builder", 0, "3d5h"]),
    (
        "",
        "Endpoints",
        {
            "metadata": meta("web"),
            "subsets": [
                {
                    "addresses": [{"ip": "10.1.0.1"}, {"ip": "10.1.0.2"}],
                    "ports": [{"name": "http", "port": 8080}],
                },
                {
                    "addresses": [{"ip": "fd00::3"}],
                    "ports": [{"name": "http", "port": 8080}, {"name": "m", "port": 9090}],
                },
            ],
        },
        ["web", "10.1.0.1:8080,10.1.0.2:8080,[fd00::3]:8080 + 1 more...", "3d5h"],
    ),
    (
        "",
        "Endpoints",
        {"metadata": meta("headless"), "subsets": [{"addresses": [{"ip": "10.1.0.9"}]}]},
        ["headless", "10.1.0.9", "3d5h"],
    ),
    ("", "Endpoints", {"metadata": meta("empty")}, ["empty", "<none>", "3d5h"]),
    (
        "",
        "Event",
        {
            "metadata": meta("web-1.17f"),
            "type": "Warning",
            "reason": "BackOff",
            "involvedObject": {"kind": "Pod", "name": "web-1", "fieldPath": "spec.containers{nginx}"},
            "source": {"component": "kubelet", "host": "node-1"},
            "message": "Back-off restarting failed container\n",
            "firstTimestamp": ago(minutes=30),
            "lastTimestamp": ago(seconds=40),
            "count": 12,
        },
        [
            "40s",
            "Warning",
            "BackOff",
            "pod/web-1",
            "spec.containers{nginx}",
            "kubelet, node-1",
            "Back-off restarting failed container",
            "30m",
            12,
            "web-1.17f",
        ],
    ),
    (
        "",
        "Event",
        {
            "metadata": meta("n.1"),
            "type": "Normal",
            "reason": "Scheduled",
            "involvedObject": {"kind": "Node"},
            "eventTime": "2025-06-01T11:58:00.123456Z",
            "reportingComponent": "default-scheduler",
            "reportingInstance": "sched-1",
            "message": "ok",
        },
        ["119s", "Normal", "Scheduled", "node", "", "default-scheduler, sched-1", "ok", "119s", 1, "n.1"],
    ),
    (
        "",
        "Event",
        {
            "metadata": meta("s.1"),
            "type": "Normal",
            "reason": "Pulled",
            "involvedObject": {"kind": "Pod", "name": "a"},
            "eventTime": "2025-06-01T10:00:00.000000Z",
            "series": {"count": 4, "lastObservedTime": "2025-06-01T11:55:00.000000Z"},
            "reportingComponent": "kubelet",
            "message": "m",
        },
        ["5m", "Normal", "Pulled", "pod/a", "", "kubelet", "m", "120m", 4, "s.1"],
    ),
    (
        "events.k8s.io",
        "Event",
        {
            "apiVersion": "events.k8s.io/v1",
            "kind": "Event",
            "metadata": meta("web-1.18a"),
            "type": "Normal",
            "reason": "Started",
            "regarding": {"kind": "Pod", "name": "web-1", "fieldPath": "spec.containers{nginx}"},
            "note": "Started container nginx",
            "eventTime": "2025-06-01T11:59:30.000000Z",
            "reportingController": "kubelet",
            "reportingInstance": "node-1",
            "action": "Started",
        },
        [
            "30s",
            "Normal",
            "Started",
            "pod/web-1",
            "spec.containers{nginx}",
            "kubelet, node-1",
            "Started container nginx",
            "30s",
            1,
            "web-1.18a",
        ],
    ),
    (
        "",
        "PersistentVolume",
        {
            "metadata": meta("pv-1"),
            "spec": {
                "capacity": {"storage": "10Gi"},
                "accessModes": ["ReadWriteMany", "ReadWriteOnce"],
                "persistentVolumeReclaimPolicy": "Retain",
                "storageClassName": "fast",
                "claimRef": {"namespace": "db", "name": "data-0"},
                "volumeMode": "Filesystem",
            },
            "status": {"phase": "Bound"},
        },
        [
            "pv-1",
            "10Gi",
            "RWO,RWX",
            "Retain",
            "Bound",
            "db/data-0",
            "fast",
            "<unset>",
            "",
            "3d5h",
            "Filesystem",
        ],
    ),
    (
        "",
        "PersistentVolume",
        {
            "metadata": meta(
                "pv-2",
                deletionTimestamp=ago(seconds=1),
                annotations={"volume.beta.kubernetes.io/storage-class": "legacy"},
            ),
            "spec": {"storageClassName": "ignored", "volumeAttributesClassName": "gold"},
            "status": {"phase": "Failed", "reason": "Recycle failed"},
        },
        ["pv-2", "0", "", "", "Terminating", "", "legacy", "gold", "Recycle failed", "3d5h", "<unset>"],
    ),
    (
        "",
        "PersistentVolumeClaim",
        {
            "metadata": meta("data-0"),
            "spec": {
                "volumeName": "pv-1",
                "storageClassName": "fast",
                "resources": {"requests": {"storage": "5Gi"}},
                "volumeMode": "Filesystem",
            },
            "status": {"phase": "Bound", "capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOnce"]},
        },
        ["data-0", "Bound", "pv-1", "10Gi", "RWO", "fast", "<unset>", "3d5h", "Filesystem"],
    ),
    (
        "",
        "PersistentVolumeClaim",
        {
            "metadata": meta("pending"),
            "spec": {"resources": {"requests": {"storage": "5Gi"}}},
            "status": {"phase": "Pending"},
        },
        ["pending", "Pending", "", "", "", "", "<unset>", "3d5h", "<unset>"],
    ),
    (
        "",
        "ReplicationController",
        {
            "metadata": meta("rc"),
            "spec": {"replicas": 3, "selector": {"app": "web"}, "template": TEMPLATE},
            "status": {"replicas": 3, "readyReplicas": 2},
        },
        ["rc", 3, 3, 2, "3d5h", "nginx,sidecar", "nginx:1.27,envoy:v1", "app=web"],
    ),
    (
        "",
        "ResourceQuota",
        {
            "metadata": meta("quota"),
            "status": {
                "hard": {"requests.cpu": "4", "limits.memory": "8Gi", "pods": "10", "limits.cpu": "8"},
                "used": {"requests.cpu": "500m", "limits.memory": "1Gi", "pods": "3"},
            },
        },
        ["quota", "pods: 3/10, requests.cpu: 500m/4", "limits.cpu: 0/8, limits.memory: 1Gi/8Gi", "3d5h"],
    ),
    (
        "",
        "LimitRange",
        {"metadata": meta("limits", created="2025-05-29T06:00:00Z"), "spec": {"limits": []}},
        ["limits", "2025-05-29T06:00:00Z"],
    ),
    (
        "",
        "PodTemplate",
        {"metadata": meta("tpl"), "template": TEMPLATE},
        ["tpl", "nginx,sidecar", "nginx:1.27,envoy:v1", "app=web"],
    ),
    (
        "",
        "ComponentStatus",
        {"metadata": meta("etcd-0"), "conditions": [{"type": "Healthy", "status": "True", "message": "ok"}]},
        ["etcd-0", "Healthy", "ok", ""],
    ),
    (
        "apps",
        "Deployment",
        {
            "metadata": meta("web"),
            "spec": {"replicas": 3, "selector": SELECTOR, "template": TEMPLATE},
            "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2},
        },
        ["web", "2/3", 3, 2, "3d5h", "nginx,sidecar", "nginx:1.27,envoy:v1", "app=web,tier in (edge,front)"],
    ),
    (
        "apps",
        "ReplicaSet",
        {
            "metadata": meta("web-5d4f"),
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "web", "hash": "5d4f"}},
                "template": TEMPLATE,
            },
            "status": {"replicas": 3, "readyReplicas": 3},
        },
        ["web-5d4f", 3, 3, 3, "3d5h", "nginx,sidecar", "nginx:1.27,envoy:v1", "app=web,hash=5d4f"],
    ),
    (
        "apps",
        "StatefulSet",
        {
            "metadata": meta("db"),
            "spec": {"replicas": 3, "template": TEMPLATE},
            "status": {"readyReplicas": 1},
        },
        ["db", "1/3", "3d5h", "nginx,sidecar", "nginx:1.27,envoy:v1"],
    ),
    (
        "apps",
        "DaemonSet",
        {
            "metadata": meta("agent"),
            "spec": {
                "selector": {
                    "matchExpressions": [
                        {"key": "canary", "operator": "DoesNotExist"},
                        {"key": "app", "operator": "Exists"},
                    ]
                },
                "template": TEMPLATE,
            },
            "status": {
                "desiredNumberScheduled": 4,
                "currentNumberScheduled": 4,
                "numberReady": 3,
                "updatedNumberScheduled": 4,
                "numberAvailable": 3,
            },
        },
        [
            "agent",
            4,
            4,
            3,
            4,
            3,
            "kubernetes.io/os=linux",
            "3d5h",
            "nginx,sidecar",
            "nginx:1.27,envoy:v1",
            "app,!canary",
        ],
    ),
    (
        "apps",
        "ControllerRevision",
        {
            "metadata": meta(
                "db-7b9c",
                ownerReferences=[
                    {
                        "apiVersion": "apps/v1",
                        "kind": "StatefulSet",
                        "name": "db",
                        "controller": True,
                        "uid": "u",
                    }
                ],
            ),
            "revision": 2,
        },
        ["db-7b9c", "statefulset.apps/db", 2, "3d5h"],
    ),
    (
        "apps",
        "ControllerRevision",
        {"metadata": meta("orphan"), "revision": 1},
        ["orphan", "<none>", 1, "3d5h"],
    ),
    (
        "batch",
        "CronJob",
        {
            "metadata": meta("backup"),
            "spec": {
                "schedule": "0 3 * * *",
                "timeZone": "Europe/Berlin",
                "suspend": False,
                "jobTemplate": {
                    "spec": {"template": {"spec": {"containers": [{"name": "b", "image": "restic"}]}}}
                },
            },
            "status": {"active": [{"name": "backup-29150"}], "lastScheduleTime": ago(hours=9)},
        },
        ["backup", "0 3 * * *", "Europe/Berlin", "False", 1, "9h", "3d5h", "b", "restic", "<none>"],
    ),
    (
        "batch",
        "CronJob",
        {"metadata": meta("never"), "spec": {"schedule": "@daily"}},
        ["never", "@daily", "<none>", "<unset>", 0, "<none>", "3d5h", "", "", "<none>"],
    ),
    (
        "autoscaling",
        "HorizontalPodAutoscaler",
        {
            "apiVersion": "autoscaling/v2",
            "metadata": meta("web"),
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "minReplicas": 2,
                "maxReplicas": 10,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": 60},
                        },
                    },
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "memory",
                            "target": {"type": "AverageValue", "averageValue": "500Mi"},
                        },
                    },
                    {
                        "type": "Pods",
                        "pods": {
                            "metric": {"name": "qps"},
                            "target": {"type": "AverageValue", "averageValue": "1k"},
                        },
                    },
                ],
            },
            "status": {
                "currentReplicas": 4,
                "currentMetrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "current": {"averageUtilization": 45, "averageValue": "90m"},
                        },
                    }
                ],
            },
        },
        ["web", "Deployment/web", "cpu: 45%/60%, memory: <unknown>/500Mi + 1 more...", "2", 10, 4, "3d5h"],
    ),
    (
        "autoscaling",
        "HorizontalPodAutoscaler",
        {
            "apiVersion": "autoscaling/v1",
            "metadata": meta("old"),
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "old"}, "maxReplicas": 5},
            "status": {"currentReplicas": 1},
        },
        ["old", "Deployment/old", "cpu: <unknown>/80%", "<unset>", 5, 1, "3d5h"],
    ),
    (
        "autoscaling",
        "HorizontalPodAutoscaler",
        {
            "apiVersion": "autoscaling/v2",
            "metadata": meta("none"),
            "spec": {
                "scaleTargetRef": {"kind": "StatefulSet", "name": "db"},
                "minReplicas": 1,
                "maxReplicas": 3,
            },
        },
        ["none", "StatefulSet/db", "<none>", "1", 3, 0, "3d5h"],
    ),
    (
        "policy",
        "PodDisruptionBudget",
        {"metadata": meta("web"), "spec": {"minAvailable": "50%"}, "status": {"disruptionsAllowed": 1}},
        ["web", "50%", "N/A", 1, "3d5h"],
    ),
    (
        "policy",
        "PodDisruptionBudget",
        {"metadata": meta("db"), "spec": {"maxUnavailable": 1}},
        ["db", "N/A", "1", 0, "3d5h"],
    ),
    (
        "networking.k8s.io",
        "Ingress",
        {
            "metadata": meta("web"),
            "spec": {
                "ingressClassName": "nginx",
                "tls": [{"hosts": ["a.example.com"]}],
                "rules": [
                    {"host": "a.example.com"},
                    {"host": "b.example.com"},
                    {},
                    {"host": "c.example.com"},
                    {"host": "d.example.com"},
                ],
            },
            "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.7"}, {"hostname": "lb.example.net"}]}},
        },
        [
            "web",
            "nginx",
            "a.example.com,b.example.com,c.example.com + 2 more...",
            "203.0.113.7,lb.example.net",
            "80, 443",
            "3d5h",
        ],
    ),
    (
        "networking.k8s.io",
        "Ingress",
        {"metadata": meta("bare"), "spec": {"defaultBackend": {}}},
        ["bare", "<none>", "*", "", "80", "3d5h"],
    ),
    (
        "networking.k8s.io",
        "IngressClass",
        {
            "metadata": meta("nginx"),
            "spec": {
                "controller": "k8s.io/ingress-nginx",
                "parameters": {
                    "apiGroup": "k8s.example.com",
                    "kind": "IngressParameters",
                    "name": "external-lb",
                },
            },
        },
        ["nginx", "k8s.io/ingress-nginx", "IngressParameters.k8s.example.com/external-lb", "3d5h"],
    ),
    (
        "networking.k8s.io",
        "IngressClass",
        {"metadata": meta("plain"), "spec": {"controller": "example.com/c"}},
        ["plain", "example.com/c", "<none>", "3d5h"],
    ),
    (
        "networking.k8s.io",
        "NetworkPolicy",
        {"metadata": meta("deny-all"), "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}},
        ["deny-all", "<none>", "3d5h"],
    ),
    (
        "networking.k8s.io",
        "NetworkPolicy",
        {"metadata": meta("db"), "spec": {"podSelector": {"matchLabels": {"role": "db"}}}},
        ["db", "role=db", "3d5h"],
    ),
    (
        "rbac.authorization.k8s.io",
        "RoleBinding",
        {
            "metadata": meta("edit"),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
            "subjects": [
                {"kind": "User", "name": "jane"},
                {"kind": "Group", "name": "devs"},
                {"kind": "ServiceAccount", "name": "ci", "namespace": "tools"},
                {"kind": "User", "name": "bob"},
            ],
        },
        ["edit", "ClusterRole/edit", "3d5h", "jane, bob", "devs", "tools/ci"],
    ),
    (
        "rbac.authorization.k8s.io",
        "ClusterRoleBinding",
        {
            "metadata": meta("admins"),
            "roleRef": {"kind": "ClusterRole", "name": "cluster-admin"},
            "subjects": [{"kind": "Group", "name": "system:masters"}],
        },
        ["admins", "ClusterRole/cluster-admin", "3d5h", "", "system:masters", ""],
    ),
    (
        "rbac.authorization.k8s.io",
        "ClusterRole",
        {"metadata": meta("view", created="2025-01-02T03:04:05Z")},
        ["view", "2025-01-02T03:04:05Z"],
    ),
    (
        "storage.k8s.io",
        "StorageClass",
        {
            "metadata": meta("standard", annotations={"storageclass.kubernetes.io/is-default-class": "true"}),
            "provisioner": "rancher.io/local-path",
            "reclaimPolicy": "Delete",
            "volumeBindingMode": "WaitForFirstConsumer",
        },
        ["standard (default)", "rancher.io/local-path", "Delete", "WaitForFirstConsumer", False, "3d5h"],
    ),
    (
        "storage.k8s.io",
        "StorageClass",
        {"metadata": meta("fast"), "provisioner": "ebs.csi.aws.com", "allowVolumeExpansion": True},
        ["fast", "ebs.csi.aws.com", "Delete", "Immediate", True, "3d5h"],
    ),
    (
        "storage.k8s.io",
        "CSIDriver",
        {
            "metadata": meta("ebs.csi.aws.com"),
            "spec": {
                "attachRequired": False,
                "podInfoOnMount": True,
                "tokenRequests": [{"audience": "sts"}, {"audience": "x"}],
                "volumeLifecycleModes": ["Persistent", "Ephemeral"],
            },
        },
        ["ebs.csi.aws.com", False, True, False, "sts,x", False, "Persistent,Ephemeral", "3d5h"],
    ),
    (
        "storage.k8s.io",
        "CSIDriver",
        {"metadata": meta("plain"), "spec": {}},
        ["plain", True, False, False, "<unset>", False, "<none>", "3d5h"],
    ),
    (
        "storage.k8s.io",
        "CSINode",
        {"metadata": meta("node-1"), "spec": {"drivers": [{"name": "ebs.csi.aws.com", "nodeID": "i-1"}]}},
        ["node-1", 1, "3d5h"],
    ),
    (
        "storage.k8s.io",
        "VolumeAttachment",
        {
            "metadata": meta("csi-1a2b"),
            "spec": {
                "attacher": "ebs.csi.aws.com",
                "nodeName": "node-1",
                "source": {"persistentVolumeName": "pv-1"},
            },
            "status": {"attached": True},
        },
        ["csi-1a2b", "ebs.csi.aws.com", "pv-1", "node-1", True, "3d5h"],
    ),
    (
        "coordination.k8s.io",
        "Lease",
        {
            "metadata": meta("kube-scheduler"),
            "spec": {"holderIdentity": "cp-1_3f2a", "leaseDurationSeconds": 15},
        },
        ["kube-scheduler", "cp-1_3f2a", "3d5h"],
    ),
    (
        "discovery.k8s.io",
        "EndpointSlice",
        {
            "metadata": meta("web-abc12"),
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": 8080}, {"name": "named"}, {}, {"port": 9090}],
            "endpoints": [
                {"addresses": ["10.1.0.1"]},
                {"addresses": ["10.1.0.2", "10.1.0.3"]},
                {"addresses": ["10.1.0.4"]},
            ],
        },
        ["web-abc12", "IPv4", "8080,named,* + 1 more...", "10.1.0.1,10.1.0.2,10.1.0.3 + 1 more...", "3d5h"],
    ),
    (
        "discovery.k8s.io",
        "EndpointSlice",
        {"metadata": meta("empty"), "addressType": "IPv6"},
        ["empty", "IPv6", "<unset>", "<unset>", "3d5h"],
    ),
    (
        "scheduling.k8s.io",
        "PriorityClass",
        {
            "metadata": meta("system-node-critical"),
            "value": 2000001000,
            "globalDefault": False,
            "preemptionPolicy": "PreemptLowerPriority",
        },
        ["system-node-critical", 2000001000, False, "3d5h", "PreemptLowerPriority"],
    ),
    (
        "node.k8s.io",
        "RuntimeClass",
        {"metadata": meta("gvisor"), "handler": "runsc"},
        ["gvisor", "runsc", "3d5h"],
    ),
    (
        "certificates.k8s.io",
        "CertificateSigningRequest",
        {
            "metadata": meta("csr-8q2lm"),
            "spec": {
                "signerName": "kubernetes.io/kube-apiserver-client-kubelet",
                "username": "system:node:node-1",
                "expirationSeconds": 86400,
            },
            "status": {"conditions": [{"type": "Approved", "status": "True"}], "certificate": "LS0tLS1C"},
        },
        [
            "csr-8q2lm",
            "3d5h",
            "kubernetes.io/kube-apiserver-client-kubelet",
            "system:node:node-1",
            "24h",
            "Approved,Issued",
        ],
    ),
    (
        "certificates.k8s.io",
        "CertificateSigningRequest",
        {
            "metadata": meta("csr-d"),
            "spec": {"username": "jane"},
            "status": {
                "conditions": [
                    {"type": "Approved", "status": "True"},
                    {"type": "Denied", "status": "True"},
                    {"type": "Failed", "status": "True"},
                ]
            },
        },
        ["csr-d", "3d5h", "<none>", "jane", "<none>", "Denied,Failed"],
    ),
    (
        "admissionregistration.k8s.io",
        "MutatingWebhookConfiguration",
        {"metadata": meta("istio-sidecar-injector"), "webhooks": [{"name": "a"}, {"name": "b"}]},
        ["istio-sidecar-injector", 2, "3d5h"],
    ),
    (
        "admissionregistration.k8s.io",
        "ValidatingWebhookConfiguration",
        {"metadata": meta("none")},
        ["none", 0, "3d5h"],
    ),
    (
        "admissionregistration.k8s.io",
        "ValidatingAdmissionPolicy",
        {
            "metadata": meta("replicas"),
            "spec": {
                "paramKind": {"apiVersion": "v1", "kind": "ConfigMap"},
                "validations": [{"expression": "true"}],
            },
        },
        ["replicas", 1, "v1/ConfigMap", "3d5h"],
    ),
    (
        "admissionregistration.k8s.io",
        "ValidatingAdmissionPolicyBinding",
        {"metadata": meta("b"), "spec": {"policyName": "replicas", "paramRef": {"name": "limits"}}},
        ["b", "replicas", "*/limits", "3d5h"],
    ),
    (
        "admissionregistration.k8s.io",
        "ValidatingAdmissionPolicyBinding",
        {
            "metadata": meta("s"),
            "spec": {
                "policyName": "p",
                "paramRef": {
                    "selector": {
                        "matchLabels": {"env": "prod"},
                        "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}],
                    }
                },
            },
        },
        [
            "s",
            "p",
            "&LabelSelector{MatchLabels:map[string]string{env: prod,},MatchExpressions:[]LabelSelectorRequirement"
            "{LabelSelectorRequirement{Key:tier,Operator:In,Values:[a b],},},}",
            "3d5h",
        ],
    ),
    (
        "apiextensions.k8s.io",
        "CustomResourceDefinition",
        {"metadata": meta("crontabs.stable.example.com", created="2025-05-01T00:00:00Z")},
        ["crontabs.stable.example.com", "2025-05-01T00:00:00Z"],
    ),
    (
        "apiregistration.k8s.io",
        "APIService",
        {
            "metadata": meta("v1beta1.metrics.k8s.io"),
            "spec": {"service": {"namespace": "kube-system", "name": "metrics"}},
            "status": {
                "conditions": [{"type": "Available", "status": "False", "reason": "MissingEndpoints"}]
            },
        },
        ["v1beta1.metrics.k8s.io", "kube-system/metrics", "False (MissingEndpoints)", "3d5h"],
    ),
    (
        "apiregistration.k8s.io",
        "APIService",
        {
            "metadata": meta("v1.apps"),
            "spec": {},
            "status": {"conditions": [{"type": "Available", "status": "True"}]},
        },
        ["v1.apps", "Local", "True", "3d5h"],
    ),
    (
        "autoscaling",
        "Scale",
        {"metadata": meta("web"), "spec": {"replicas": 3}, "status": {"replicas": 2}},
        ["web", 3, 2, "3d5h"],
    ),
    (
        "storage.k8s.io",
        "CSIStorageCapacity",
        {"metadata": meta("csisc-1"), "storageClassName": "fast", "capacity": "100Gi"},
        ["csisc-1", "fast", "100Gi"],
    ),
    (
        "storage.k8s.io",
        "VolumeAttributesClass",
        {
            "metadata": meta(
                "gold", annotations={"volumeattributesclass.alpha.kubernetes.io/is-default-class": "true"}
            ),
            "driverName": "ebs.csi.aws.com",
        },
        ["gold (default)", "ebs.csi.aws.com", "3d5h"],
    ),
    (
        "coordination.k8s.io",
        "LeaseCandidate",
        {
            "metadata": meta("kcm-cp-1"),
            "spec": {
                "leaseName": "kube-controller-manager",
                "binaryVersion": "1.33.1",
                "emulationVersion": "1.33",
            },
        },
        ["kcm-cp-1", "kube-controller-manager", "1.33.1", "1.33", "3d5h"],
    ),
    (
        "certificates.k8s.io",
        "ClusterTrustBundle",
        {"metadata": meta("example.com:signer:abc"), "spec": {"signerName": "example.com/signer"}},
        ["example.com:signer:abc", "example.com/signer"],
    ),
    (
        "admissionregistration.k8s.io",
        "MutatingAdmissionPolicy",
        {"metadata": meta("add-label"), "spec": {"mutations": [{"patchType": "ApplyConfiguration"}]}},
        ["add-label", 1, "<unset>", "3d5h"],
    ),
    (
        "admissionregistration.k8s.io",
        "MutatingAdmissionPolicyBinding",
        {
            "metadata": meta("b"),
            "spec": {"policyName": "add-label", "paramRef": {"name": "cfg", "namespace": "ops"}},
        },
        ["b", "add-label", "ops/cfg", "3d5h"],
    ),
    (
        "flowcontrol.apiserver.k8s.io",
        "FlowSchema",
        {
            "metadata": meta("workload-leader-election"),
            "spec": {
                "priorityLevelConfiguration": {"name": "leader-election"},
                "matchingPrecedence": 200,
                "distinguisherMethod": {"type": "ByUser"},
            },
            "status": {"conditions": [{"type": "Dangling", "status": "False"}]},
        },
        ["workload-leader-election", "leader-election", 200, "ByUser", "3d5h", "False"],
    ),
    (
        "flowcontrol.apiserver.k8s.io",
        "PriorityLevelConfiguration",
        {
            "metadata": meta("workload-low"),
            "spec": {
                "type": "Limited",
                "limited": {
                    "nominalConcurrencyShares": 100,
                    "limitResponse": {
                        "type": "Queue",
                        "queuing": {"queues": 128, "handSize": 6, "queueLengthLimit": 50},
                    },
                },
            },
        },
        ["workload-low", "Limited", 100, 128, 6, 50, "3d5h"],
    ),
    (
        "flowcontrol.apiserver.k8s.io",
        "PriorityLevelConfiguration",
        {"metadata": meta("exempt"), "spec": {"type": "Exempt", "exempt": {}}},
        ["exempt", "Exempt", "<none>", "<none>", "<none>", "<none>", "3d5h"],
    ),
    (
        "internal.apiserver.k8s.io",
        "StorageVersion",
        {
            "metadata": meta("apps.deployments"),
            "status": {
                "commonEncodingVersion": "apps/v1",
                "storageVersions": [
                    {"apiServerID": f"kube-apiserver-{i}", "encodingVersion": "apps/v1"} for i in range(4)
                ],
            },
        },
        [
            "apps.deployments",
            "apps/v1",
            "kube-apiserver-0=apps/v1,kube-apiserver-1=apps/v1,kube-apiserver-2=apps/v1 + 1 more...",
            "3d5h",
        ],
    ),
    (
        "networking.k8s.io",
        "ServiceCIDR",
        {"metadata": meta("kubernetes"), "spec": {"cidrs": ["10.96.0.0/12", "fd00:10:96::/112"]}},
        ["kubernetes", "10.96.0.0/12,fd00:10:96::/112", "3d5h"],
    ),
    (
        "networking.k8s.io",
        "IPAddress",
        {
            "metadata": meta("10.96.0.1"),
            "spec": {
                "parentRef": {
                    "group": "",
                    "resource": "services",
                    "namespace": "default",
                    "name": "kubernetes",
                }
            },
        },
        ["10.96.0.1", "services/default/kubernetes"],
    ),
    ("resource.k8s.io", "DeviceClass", {"metadata": meta("gpu.example.com")}, ["gpu.example.com", "3d5h"]),
    ("resource.k8s.io", "ResourceClaimTemplate", {"metadata": meta("gpu-tpl")}, ["gpu-tpl", "3d5h"]),
    (
        "resource.k8s.io",
        "ResourceClaim",
        {
            "metadata": meta("gpu"),
            "status": {"allocation": {"devices": {}}, "reservedFor": [{"resource": "pods"}]},
        },
        ["gpu", "allocated,reserved", "3d5h"],
    ),
    ("resource.k8s.io", "ResourceClaim", {"metadata": meta("wait")}, ["wait", "pending", "3d5h"]),
    (
        "resource.k8s.io",
        "ResourceClaim",
        {"metadata": meta("gone", deletionTimestamp=ago(seconds=3))},
        ["gone", "deleted", "3d5h"],
    ),
    (
        "resource.k8s.io",
        "ResourceSlice",
        {
            "metadata": meta("node-1-gpu-x7"),
            "spec": {
                "nodeName": "node-1",
                "driver": "gpu.example.com",
                "pool": {"name": "node-1", "generation": 1},
            },
        },
        ["node-1-gpu-x7", "node-1", "gpu.example.com", "node-1", "3d5h"],
    ),
    (
        "resource.k8s.io",
        "DeviceTaintRule",
        {
            "metadata": meta("maintenance"),
            "spec": {
                "taint": {
                    "key": "example.com/maint",
                    "value": "x",
                    "effect": "NoExecute",
                    "timeAdded": ago(hours=2),
                }
            },
        },
        ["maintenance", "example.com/maint", "x", "NoExecute", "120m", "3d5h"],
    ),
    (
        "storagemigration.k8s.io",
        "StorageVersionMigration",
        {
            "metadata": meta("secrets-migration"),
            "spec": {"resource": {"group": "", "version": "v1", "resource": "secrets"}},
        },
        ["secrets-migration", "secrets.v1."],
    ),
]


@pytest.mark.parametrize(
    ("group", "kind", "obj", "want"),
    KIND_CASES,
    ids=[f"{g or 'core'}/{k}-{i}" for i, (g, k, _, _) in enumerate(KIND_CASES)],
)
def test_kind_rows(group: str, kind: str, obj: dict[str, Any], want: list[Any]) -> None:
    got = cells(group, kind, obj)
    assert got == want
    # Compare types too: 1 == True in Python, but "1" and true differ on the wire.
    assert [type(c) for c in got] == [type(c) for c in want]


def test_every_registered_kind_has_a_realistic_case() -> None:
    dedicated = {
        ("", "Pod"),
        ("", "Node"),
        ("", "Service"),
        ("batch", "Job"),
        ("rbac.authorization.k8s.io", "Role"),
    }
    covered = {(group, kind) for group, kind, _, _ in KIND_CASES} | dedicated
    assert set(registered_kinds()) <= covered
