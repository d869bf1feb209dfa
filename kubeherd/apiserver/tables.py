"""The `meta.k8s.io/v1` Table rendering that `kubectl get` asks for (server-side printing)."""

from __future__ import annotations

import datetime
from typing import Any

import orjson

from kubeherd.api import printers
from kubeherd.api.resources import Resource

TABLE_MEDIA = "application/json;as=Table;v=v1;g=meta.k8s.io"


def wants_table(accept: str) -> bool:
    for part in accept.split(","):
        params = {p.strip() for p in part.split(";")}
        if "as=Table" in params and "g=meta.k8s.io" in params and ("v=v1" in params or "v=v1beta1" in params):
            return True
    return False


def partial_metadata(obj: dict[str, Any]) -> dict[str, Any]:
    meta = {k: v for k, v in obj.get("metadata", {}).items() if k != "managedFields"}
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": meta}


class TableWriter:
    """Rows for one resource, with the object embedded as the request's includeObject asks."""

    def __init__(self, resource: Resource, include_object: str) -> None:
        self.resource = resource
        self.include = include_object or "Metadata"
        self.now = datetime.datetime.now(datetime.UTC)

    def columns(self) -> list[dict[str, Any]]:
        return printers.column_definitions(self.resource.group, self.resource.kind)

    def row(self, obj: dict[str, Any], raw: bytes) -> bytes:
        cells = printers.row_cells(self.resource.group, self.resource.kind, obj, self.now)
        head = b'{"cells":' + orjson.dumps(cells)
        if self.include == "None":
            return head + b"}"
        if self.include == "Object":
            return head + b',"object":' + raw + b"}"
        return head + b',"object":' + orjson.dumps(partial_metadata(obj)) + b"}"

    def table(self, rows: list[bytes], list_meta: dict[str, Any], with_columns: bool = True) -> bytes:
        columns = orjson.dumps(self.columns() if with_columns else [])
        return (b'{"kind":"Table","apiVersion":"meta.k8s.io/v1","metadata":' + orjson.dumps(list_meta)
                + b',"columnDefinitions":' + columns + b',"rows":[' + b",".join(rows) + b"]}")
