"""``apiregistration.k8s.io``: APIService, printed by kube-aggregator's own table convertor."""

from __future__ import annotations

import datetime

from ._format import Cell, Obj, age, dig, mapping, name, seq
from ._table import AGE, NAME, Column, printer

API_SERVICE_COLUMNS = (
    NAME,
    Column("Service", "string", "The reference to the service that hosts this API endpoint."),
    Column("Available", "string", "Whether this service is available."),
    AGE,
)


def api_service_available(obj: Obj) -> str:
    for condition in seq(dig(obj, "status", "conditions")):
        if dig(condition, "type") != "Available":
            continue
        status = str(dig(condition, "status", default=""))
        reason = dig(condition, "reason")
        if status != "True" and reason:
            return f"{status} ({reason})"
        return status
    return "Unknown"


@printer("apiregistration.k8s.io", "APIService", API_SERVICE_COLUMNS)
def api_service_row(obj: Obj, now: datetime.datetime) -> list[Cell]:
    service = dig(obj, "spec", "service")
    target = "Local"
    if service is not None:
        service = mapping(service)
        target = f"{service.get('namespace') or ''}/{service.get('name') or ''}"
    return [name(obj), target, api_service_available(obj), age(obj, now)]
