"""Printers for ``scheduling.k8s.io``: PriorityClass."""

from __future__ import annotations

import datetime

from ._format import Cell, Obj, age, integer, name
from ._swagger import swagger
from ._table import AGE, NAME, Column, printer

PRIORITY_CLASS_COLUMNS = (
    NAME,
    Column("Value", "integer", swagger("scheduling/v1 PriorityClass.value")),
    Column("Global-Default", "boolean", swagger("scheduling/v1 PriorityClass.globalDefault")),
    AGE,
    # Not marked wide upstream, so kubectl shows it by default.
    Column("PreemptionPolicy", "string", swagger("scheduling/v1 PriorityClass.preemptionPolicy")),
)


@printer("scheduling.k8s.io", "PriorityClass", PRIORITY_CLASS_COLUMNS)
def priority_class_row(obj: Obj, now: datetime.datetime) -> list[Cell]:
    return [
        name(obj),
        integer(obj.get("value")),
        obj.get("globalDefault") is True,
        age(obj, now),
        str(obj.get("preemptionPolicy") or ""),
    ]
