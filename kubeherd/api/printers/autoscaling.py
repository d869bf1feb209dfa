"""Printers for ``autoscaling``: HorizontalPodAutoscaler and the Scale subresource."""

from __future__ import annotations

import datetime
from typing import Any

from ._format import Cell, Obj, age, dig, integer, mapping, name, quantity_ptr, seq
from ._swagger import swagger
from ._table import AGE, NAME, Column, printer

HPA_COLUMNS = (
    NAME,
    Column("Reference", "string", swagger("autoscaling/v2beta1 HorizontalPodAutoscalerSpec.scaleTargetRef")),
    Column("Targets", "string", swagger("autoscaling/v2beta1 HorizontalPodAutoscalerSpec.metrics")),
    Column("MinPods", "string", swagger("autoscaling/v2beta1 HorizontalPodAutoscalerSpec.minReplicas")),
    Column("MaxPods", "string", swagger("autoscaling/v2beta1 HorizontalPodAutoscalerSpec.maxReplicas")),
    Column(
        "Replicas", "string", swagger("autoscaling/v2beta1 HorizontalPodAutoscalerStatus.currentReplicas")
    ),
    AGE,
)

_DEFAULT_CPU_UTILIZATION = 80


def _v2_metrics(hpa: Obj) -> tuple[list[Any], list[Any]]:
    """Spec and status metrics in the autoscaling/v2 shape, whichever version ``hpa`` is written in."""
    spec, status = mapping(hpa.get("spec")), mapping(hpa.get("status"))
    if hpa.get("apiVersion") != "autoscaling/v1":
        return seq(spec.get("metrics")), seq(status.get("currentMetrics"))
    # autoscaling/v1 knows only a CPU target; with none set, upstream applies the 80% default.
    target = spec.get("targetCPUUtilizationPercentage")
    metrics = [
        {
            "type": "Resource",
            "resource": {
                "name": "cpu",
                "target": {
                    "type": "Utilization",
                    "averageUtilization": _DEFAULT_CPU_UTILIZATION if target is None else target,
                },
            },
        }
    ]
    current = status.get("currentCPUUtilizationPercentage")
    statuses = []
    if current is not None:
        statuses = [
            {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": current}}}
        ]
    return metrics, statuses


def _value_target(source: Any, status: Any) -> str:
    """An Object or External metric: ``current/target``, or ``current/target (avg)`` for averages."""
    target = mapping(dig(source, "target"))
    if target.get("averageValue") is not None:
        current = "<unknown>"
        if dig(status, "current", "averageValue") is not None:
            current = quantity_ptr(dig(status, "current", "averageValue"))
        return f"{current}/{quantity_ptr(target['averageValue'])} (avg)"
    current = "<unknown>" if status is None else quantity_ptr(dig(status, "current", "value"))
    return f"{current}/{quantity_ptr(target.get('value'))}"


def _resource_target(source: Any, status: Any) -> str:
    """A Resource or ContainerResource metric: ``cpu: 40%/80%`` or ``memory: 1Gi/2Gi``."""
    resource = dig(source, "name", default="")
    target = mapping(dig(source, "target"))
    if target.get("averageValue") is not None:
        current = "<unknown>" if status is None else quantity_ptr(dig(status, "current", "averageValue"))
        return f"{resource}: {current}/{quantity_ptr(target['averageValue'])}"
    current = "<unknown>"
    if dig(status, "current", "averageUtilization") is not None:
        current = f"{integer(dig(status, 'current', 'averageUtilization'))}%"
    wanted = "<auto>"
    if target.get("averageUtilization") is not None:
        wanted = f"{integer(target['averageUtilization'])}%"
    return f"{resource}: {current}/{wanted}"


_SOURCE_FIELDS = {
    "External": "external",
    "Pods": "pods",
    "Object": "object",
    "Resource": "resource",
    "ContainerResource": "containerResource",
}


def format_hpa_metrics(specs: list[Any], statuses: list[Any], limit: int = 2) -> str:
    """Upstream ``formatHPAMetrics``: each metric as current/target, two at most then `` + N more...``."""
    if not specs:
        return "<none>"
    parts = []
    for index, spec in enumerate(specs):
        metric_type = dig(spec, "type")
        field = _SOURCE_FIELDS.get(str(metric_type))
        if field is None:
            parts.append("<unknown type>")
            continue
        source = dig(spec, field)
        status = dig(statuses[index], field) if index < len(statuses) else None
        if metric_type == "Pods":
            current = "<unknown>" if status is None else quantity_ptr(dig(status, "current", "averageValue"))
            parts.append(f"{current}/{quantity_ptr(dig(source, 'target', 'averageValue'))}")
        elif metric_type in ("External", "Object"):
            parts.append(_value_target(source, status))
        else:
            parts.append(_resource_target(source, status))
    text = ", ".join(parts[:limit])
    if len(parts) > limit:
        return f"{text} + {len(parts) - limit} more..."
    return text


@printer("autoscaling", "HorizontalPodAutoscaler", HPA_COLUMNS)
def hpa_row(hpa: Obj, now: datetime.datetime) -> list[Cell]:
    spec = mapping(hpa.get("spec"))
    ref = mapping(spec.get("scaleTargetRef"))
    min_replicas = spec.get("minReplicas")
    # MAXPODS and REPLICAS are declared as strings but sent as integers, as upstream does.
    return [
        name(hpa),
        f"{ref.get('kind') or ''}/{ref.get('name') or ''}",
        format_hpa_metrics(*_v2_metrics(hpa)),
        "<unset>" if min_replicas is None else str(integer(min_replicas)),
        integer(spec.get("maxReplicas")),
        integer(dig(hpa, "status", "currentReplicas")),
        age(hpa, now),
    ]


SCALE_COLUMNS = (
    Column("Name", "string", swagger("meta/v1 ObjectMeta.name")),
    Column("Desired", "integer", swagger("autoscaling/v1 ScaleSpec.replicas")),
    Column("Available", "integer", swagger("autoscaling/v1 ScaleStatus.replicas")),
    AGE,
)


@printer("autoscaling", "Scale", SCALE_COLUMNS)
def scale_row(scale: Obj, now: datetime.datetime) -> list[Cell]:
    return [
        name(scale),
        integer(dig(scale, "spec", "replicas")),
        integer(dig(scale, "status", "replicas")),
        age(scale, now),
    ]
