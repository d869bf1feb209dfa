"""Printers for ``internal.apiserver.k8s.io``: StorageVersion."""

from __future__ import annotations

import datetime

from ._format import Cell, Obj, age, dig, list_with_more, name, seq
from ._swagger import swagger
from ._table import AGE, NAME, Column, printer

STORAGE_VERSION_COLUMNS = (
    NAME,
    Column(
        "CommonEncodingVersion",
        "string",
        swagger("apiserverinternal/v1alpha1 StorageVersionStatus.commonEncodingVersion"),
    ),
    Column(
        "StorageVersions",
        "string",
        swagger("apiserverinternal/v1alpha1 StorageVersionStatus.storageVersions"),
    ),
    AGE,
)


@printer("internal.apiserver.k8s.io", "StorageVersion", STORAGE_VERSION_COLUMNS)
def storage_version_row(obj: Obj, now: datetime.datetime) -> list[Cell]:
    common = dig(obj, "status", "commonEncodingVersion")
    versions = (
        f"{dig(v, 'apiServerID', default='')}={dig(v, 'encodingVersion', default='')}"
        for v in seq(dig(obj, "status", "storageVersions"))
    )
    return [name(obj), "<unset>" if common is None else str(common), list_with_more(versions), age(obj, now)]
