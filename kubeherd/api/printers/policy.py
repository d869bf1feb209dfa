"""Printers for ``policy``: PodDisruptionBudget."""

from __future__ import annotations

import datetime

from ._format import Cell, Obj, age, dig, int_or_string, integer, name
from ._table import AGE, NAME, Column, printer

PDB_COLUMNS = (
    NAME,
    Column("Min Available", "string", "The minimum number of pods that must be available."),
    Column("Max Unavailable", "string", "The maximum number of pods that may be unavailable."),
    Column("Allowed Disruptions", "integer", "Calculated number of pods that may be disrupted at this time."),
    AGE,
)


@printer("policy", "PodDisruptionBudget", PDB_COLUMNS)
def pod_disruption_budget_row(obj: Obj, now: datetime.datetime) -> list[Cell]:
    min_available = dig(obj, "spec", "minAvailable")
    max_unavailable = dig(obj, "spec", "maxUnavailable")
    return [
        name(obj),
        "N/A" if min_available is None else int_or_string(min_available),
        "N/A" if max_unavailable is None else int_or_string(max_unavailable),
        integer(dig(obj, "status", "disruptionsAllowed")),
        age(obj, now),
    ]
