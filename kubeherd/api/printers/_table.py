"""The printer registry: one small declaration per kind, looked up by ``(group, kind)``.

A kind contributes its columns (upstream's ``TableColumnDefinition`` list, in order) and one
function that turns an object into that row's cells. kube-apiserver always renders tables in its
"wide" form and lets kubectl hide ``priority: 1`` columns, so every row carries every column.

Two fallbacks mirror what upstream serves for kinds without a printer of their own:

* built-in kinds whose storage uses the generic convertor (Role, ClusterRole, LimitRange,
  CustomResourceDefinition) print ``Name`` and ``Created At`` (an RFC 3339 timestamp) and are
  registered explicitly with `GENERIC_COLUMNS`;
* anything not registered is treated as a custom resource with no additional printer columns,
  which upstream's apiextensions server prints as ``Name`` and ``Age``.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ._format import Cell, Obj, dig, name, parse_time, since
from ._swagger import swagger


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    description: str
    priority: int = 0
    format: str = ""

    def definition(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        }


RowFunc = Callable[[Obj, datetime.datetime], list[Cell]]
ConditionsFunc = Callable[[Obj], list[dict[str, str]]]


@dataclass(frozen=True)
class Printer:
    columns: tuple[Column, ...]
    row: RowFunc
    conditions: ConditionsFunc | None = None


_PRINTERS: dict[tuple[str, str], Printer] = {}


def printer(
    group: str,
    kind: str,
    columns: Sequence[Column],
    *,
    conditions: ConditionsFunc | None = None,
) -> Callable[[RowFunc], RowFunc]:
    """Register the decorated row function as the printer of ``group``/``kind``."""

    def register(row: RowFunc) -> RowFunc:
        key = (group, kind)
        if key in _PRINTERS:
            raise ValueError(f"printer for {group or 'core'}/{kind} registered twice")
        _PRINTERS[key] = Printer(tuple(columns), row, conditions)
        return row

    return register


# Columns that most kinds share, with upstream's descriptions.
NAME = Column("Name", "string", swagger("meta/v1 ObjectMeta.name"), format="name")
AGE = Column("Age", "string", swagger("meta/v1 ObjectMeta.creationTimestamp"))
CONTAINERS = Column("Containers", "string", "Names of each container in the template.")
IMAGES = Column("Images", "string", "Images referenced by each container in the template.")
WIDE_CONTAINERS = Column(CONTAINERS.name, CONTAINERS.type, CONTAINERS.description, priority=1)
WIDE_IMAGES = Column(IMAGES.name, IMAGES.type, IMAGES.description, priority=1)


# --- the generic convertor (k8s.io/apiserver registry/rest/table.go) -------------------------

GENERIC_COLUMNS = (
    NAME,
    Column("Created At", "date", swagger("meta/v1 ObjectMeta.creationTimestamp")),
)

_GO_ZERO_TIME = "0001-01-01T00:00:00Z"


def generic_row(obj: Obj, now: datetime.datetime) -> list[Cell]:
    created = parse_time(dig(obj, "metadata", "creationTimestamp"))
    stamp = _GO_ZERO_TIME
    if created is not None:
        stamp = created.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return [name(obj), stamp]


def generic(group: str, kind: str) -> None:
    """Declare that upstream serves ``group``/``kind`` through the generic Name/Created At table."""
    printer(group, kind, GENERIC_COLUMNS)(generic_row)


# --- custom resources without additionalPrinterColumns (apiextensions tableconvertor) --------

CUSTOM_RESOURCE_COLUMNS = (
    NAME,
    Column("Age", "date", swagger("meta/v1 ObjectMeta.creationTimestamp")),
)


def custom_resource_row(obj: Obj, now: datetime.datetime) -> list[Cell]:
    created = dig(obj, "metadata", "creationTimestamp")
    if created is None:
        return [name(obj), None]  # the JSONPath found nothing
    if parse_time(created) is None:
        return [name(obj), "<invalid>"]
    return [name(obj), since(created, now)]


_CUSTOM_RESOURCE = Printer(CUSTOM_RESOURCE_COLUMNS, custom_resource_row)


# --- lookups ---------------------------------------------------------------------------------


def lookup(group: str, kind: str) -> Printer:
    return _PRINTERS.get((group, kind), _CUSTOM_RESOURCE)


def registered_kinds() -> list[tuple[str, str]]:
    """Every ``(group, kind)`` with a printer of its own, sorted."""
    return sorted(_PRINTERS)


def column_definitions(group: str, kind: str) -> list[dict[str, Any]]:
    """The Table ``columnDefinitions`` for a kind, in upstream's order.

    ``priority`` 0 columns are shown by default, 1 only with ``-o wide``. A kind without a printer
    gets the columns upstream serves for a custom resource: ``Name`` and ``Age``.
    """
    return [column.definition() for column in lookup(group, kind).columns]


def row_cells(group: str, kind: str, obj: Obj, now: datetime.datetime) -> list[Cell]:
    """The cells of one object's row, one per column of `column_definitions`.

    ``now`` is the timezone-aware UTC instant ages are measured from.
    """
    return lookup(group, kind).row(obj, now)


def row_conditions(group: str, kind: str, obj: Obj) -> list[dict[str, str]]:
    """The Table row ``conditions`` upstream attaches (only pods have any: ``Completed``)."""
    conditions = lookup(group, kind).conditions
    return conditions(obj) if conditions else []
