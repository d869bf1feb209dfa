"""Printers for ``apps``: Deployment, ReplicaSet, StatefulSet, DaemonSet, ControllerRevision."""

from __future__ import annotations

import datetime

from ._format import (
    Cell,
    Obj,
    age,
    container_cells,
    dig,
    format_label_selector,
    format_labels,
    integer,
    name,
    selector_string,
    seq,
)
from ._swagger import swagger
from ._table import AGE, NAME, WIDE_CONTAINERS, WIDE_IMAGES, Column, printer

DEPLOYMENT_COLUMNS = (
    NAME,
    Column("Ready", "string", "Number of the pod with ready state"),
    Column("Up-to-date", "string", swagger("extensions/v1beta1 DeploymentStatus.updatedReplicas")),
    Column("Available", "string", swagger("extensions/v1beta1 DeploymentStatus.availableReplicas")),
    AGE,
    WIDE_CONTAINERS,
    WIDE_IMAGES,
    Column("Selector", "string", swagger("extensions/v1beta1 DeploymentSpec.selector"), priority=1),
)


@printer("apps", "Deployment", DEPLOYMENT_COLUMNS)
def deployment_row(obj: Obj, now: datetime.datetime) -> list[Cell]:
    names, images = container_cells(dig(obj, "spec", "template", "spec", "containers"))
    selector = selector_string(dig(obj, "spec", "selector"))
    # UP-TO-DATE and AVAILABLE are declared as strings but sent as integers, as upstream does.
    return [
        name(obj),
        f"{integer(dig(obj, 'status', 'readyReplicas'))}/{integer(dig(obj, 'spec', 'replicas'))}",
        integer(dig(obj, "status", "updatedReplicas")),
        integer(dig(obj, "status", "availableReplicas")),
        age(obj, now),
        names,
        images,
        "<invalid>" if selector is None else selector,
    ]


REPLICA_SET_COLUMNS = (
    NAME,
    Column("Desired", "integer", swagger("extensions/v1beta1 ReplicaSetSpec.replicas")),
    Column("Current", "integer", swagger("extensions/v1beta1 ReplicaSetStatus.replicas")),
    Column("Ready", "integer", swagger("extensions/v1beta1 ReplicaSetStatus.readyReplicas")),
    AGE,
    WIDE_CONTAINERS,
    WIDE_IMAGES,
    Column("Selector", "string", swagger("extensions/v1beta1 ReplicaSetSpec.selector"), priority=1),
)


@printer("apps", "ReplicaSet", REPLICA_SET_COLUMNS)
def replica_set_row(obj: Obj, now: datetime.datetime) -> list[Cell]:
    names, images = container_cells(dig(obj, "spec", "template", "spec", "containers"))
    return [
        name(obj),
        integer(dig(obj, "spec", "replicas")),
        integer(dig(obj, "status", "replicas")),
        integer(dig(obj, "status", "readyReplicas")),
        age(obj, now),
        names,
        images,
        format_label_selector(dig(obj, "spec", "selector")),
    ]


STATEFUL_SET_COLUMNS = (
    NAME,
    Column("Ready", "string", "Number of the pod with ready state"),
    AGE,
    WIDE_CONTAINERS,
    WIDE_IMAGES,
)


@printer("apps", "StatefulSet", STATEFUL_SET_COLUMNS)
def stateful_set_row(obj: Obj, now: datetime.datetime) -> list[Cell]:
    names, images = container_cells(dig(obj, "spec", "template", "spec", "containers"))
    ready = f"{integer(dig(obj, 'status', 'readyReplicas'))}/{integer(dig(obj, 'spec', 'replicas'))}"
    return [name(obj), ready, age(obj, now), names, images]


DAEMON_SET_COLUMNS = (
    NAME,
    Column("Desired", "integer", swagger("extensions/v1beta1 DaemonSetStatus.desiredNumberScheduled")),
    Column("Current", "integer", swagger("extensions/v1beta1 DaemonSetStatus.currentNumberScheduled")),
    Column("Ready", "integer", swagger("extensions/v1beta1 DaemonSetStatus.numberReady")),
    Column("Up-to-date", "integer", swagger("extensions/v1beta1 DaemonSetStatus.updatedNumberScheduled")),
    Column("Available", "integer", swagger("extensions/v1beta1 DaemonSetStatus.numberAvailable")),
    Column("Node Selector", "string", swagger("core/v1 PodSpec.nodeSelector")),
    AGE,
    WIDE_CONTAINERS,
    WIDE_IMAGES,
    Column("Selector", "string", swagger("extensions/v1beta1 DaemonSetSpec.selector"), priority=1),
)


@printer("apps", "DaemonSet", DAEMON_SET_COLUMNS)
def daemon_set_row(obj: Obj, now: datetime.datetime) -> list[Cell]:
    status = obj.get("status")
    names, images = container_cells(dig(obj, "spec", "template", "spec", "containers"))
    return [
        name(obj),
        integer(dig(status, "desiredNumberScheduled")),
        integer(dig(status, "currentNumberScheduled")),
        integer(dig(status, "numberReady")),
        integer(dig(status, "updatedNumberScheduled")),
        integer(dig(status, "numberAvailable")),
        format_labels(dig(obj, "spec", "template", "spec", "nodeSelector")),
        age(obj, now),
        names,
        images,
        format_label_selector(dig(obj, "spec", "selector")),
    ]


CONTROLLER_REVISION_COLUMNS = (
    NAME,
    Column("Controller", "string", "Controller of the object"),
    Column("Revision", "string", swagger("apps/v1beta1 ControllerRevision.revision")),
    AGE,
)


def controller_of(obj: Obj) -> str:
    """``<kind>[.<group>]/<name>`` (lower-cased kind and group) of the controlling owner, or ``<none>``."""
    for ref in seq(dig(obj, "metadata", "ownerReferences")):
        if dig(ref, "controller") is not True:
            continue
        api_version = str(dig(ref, "apiVersion", default=""))
        group = api_version.split("/")[0] if api_version.count("/") == 1 else ""
        kind = str(dig(ref, "kind", default=""))
        ref_name = str(dig(ref, "name", default=""))
        if not group and not kind:
            return ref_name
        return f"{kind}.{group}".lower() + f"/{ref_name}" if group else f"{kind.lower()}/{ref_name}"
    return "<none>"


@printer("apps", "ControllerRevision", CONTROLLER_REVISION_COLUMNS)
def controller_revision_row(obj: Obj, now: datetime.datetime) -> list[Cell]:
    # REVISION is declared as a string but sent as an integer, as upstream does.
    return [name(obj), controller_of(obj), integer(obj.get("revision")), age(obj, now)]
