"""Printers for ``node.k8s.io``: RuntimeClass."""

from __future__ import annotations

import datetime

from ._format import Cell, Obj, age, name
from ._swagger import swagger
from ._table import AGE, NAME, Column, printer

# Upstream looks HANDLER's description up on ObjectMeta, which has no such field: it is empty.
RUNTIME_CLASS_COLUMNS = (NAME, Column("Handler", "string", swagger("meta/v1 ObjectMeta.handler")), AGE)


@printer("node.k8s.io", "RuntimeClass", RUNTIME_CLASS_COLUMNS)
def runtime_class_row(obj: Obj, now: datetime.datetime) -> list[Cell]:
    return [name(obj), str(obj.get("handler") or ""), age(obj, now)]
