"""OpenAPI v3 documents, one per group-version, derived from the Swagger 2.0 paths.

kubectl 1.29+ reads `/openapi/v3` and, when a group-version's `patch` operations declare the
`fieldValidation` parameter and the kind's `x-kubernetes-group-version-kind`, leaves field
validation to the server. The paths and operations are those of the v2 document
(`openapi_v2.swagger_document`), rewritten into v3's shape (parameter types move under `schema`)
and split by group-version; full schemas with descriptions (for `kubectl explain`) come with
the schema work of the apply issue.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from kubeherd.api.resources import Catalog
from kubeherd.apiserver.openapi_v2 import swagger_document


def _v3_parameter(param: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in param.items() if k not in ("type", "uniqueItems")}
    out["schema"] = {"type": param.get("type", "string"), "uniqueItems": True}
    return out


def _v3_path_item(item: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in item.items():
        if key == "parameters":
            out[key] = [_v3_parameter(p) for p in value]
        else:
            out[key] = {**value, "parameters": [_v3_parameter(p) for p in value.get("parameters", [])]}
    return out


def _group_version_path(path: str) -> str:
    """`/apis/apps/v1/...` → `apis/apps/v1`; `/api/v1/...` → `api/v1`."""
    parts = path.strip("/").split("/")
    return "/".join(parts[:2] if parts[0] == "api" else parts[:3])


class OpenAPI:
    """Pre-encoded v3 documents and the index that points at them by content hash."""

    def __init__(self, catalog: Catalog) -> None:
        grouped: dict[str, dict[str, Any]] = {}
        for path, item in swagger_document(catalog)["paths"].items():
            grouped.setdefault(_group_version_path(path), {})[path] = _v3_path_item(item)
        self.documents: dict[str, bytes] = {}
        index: dict[str, Any] = {}
        for gv, paths in grouped.items():
            body = orjson.dumps({"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.33.0"},
                                 "paths": paths, "components": {"schemas": {}}})
            digest = hashlib.sha512(body).hexdigest()[:128].upper()
            self.documents[gv] = body
            index[gv] = {"serverRelativeURL": f"/openapi/v3/{gv}?hash={digest}"}
        self.index = orjson.dumps({"paths": index})

    def get(self, path: str) -> bytes | None:
        if path in ("/openapi/v3", "/openapi/v3/"):
            return self.index
        if path.startswith("/openapi/v3/"):
            return self.documents.get(path[len("/openapi/v3/"):])
        return None
