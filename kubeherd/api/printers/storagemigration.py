"""Printers for ``storagemigration.k8s.io``: StorageVersionMigration."""

from __future__ import annotations

import datetime

from ._format import Cell, Obj, dig, name
from ._swagger import swagger
from ._table import Column, printer

STORAGE_VERSION_MIGRATION_COLUMNS = (
    Column("Name", "string", swagger("meta/v1 ObjectMeta.name")),
    Column("Resource", "string", "Fully qualified resource to migrate"),
)


@printer("storagemigration.k8s.io", "StorageVersionMigration", STORAGE_VERSION_MIGRATION_COLUMNS)
def storage_version_migration_row(obj: Obj, now: datetime.datetime) -> list[Cell]:
    resource = dig(obj, "spec", "resource", default={})
    fields = (dig(resource, key, default="") for key in ("resource", "version", "group"))
    return [name(obj), ".".join(str(f) for f in fields)]
