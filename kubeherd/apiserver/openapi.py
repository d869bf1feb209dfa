"""OpenAPI v3 documents, generated from the catalog.

kubectl 1.29+ reads `/openapi/v3` and, when a group-version's `patch` operations declare the
`fieldValidation` parameter and the kind's `x-kubernetes-group-version-kind`, leaves field
validation to the server. These documents carry the paths and operations; the full schemas
with descriptions (for `kubectl explain`) come with the schema work of the apply issue.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from kubeherd.api.resources import Catalog, Resource

_QUERY = ("dryRun", "fieldManager", "fieldValidation", "pretty")


def _param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True}}


def _path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string", "uniqueItems": True}}


def _operation(r: Resource, action: str, extra: tuple[str, ...] = ()) -> dict[str, Any]:
    gvk = {"group": r.group, "version": r.version, "kind": r.kind}
    return {
        "tags": [r.group or "core"],
        "operationId": f"{action}{r.kind}",
        "parameters": [_param(p) for p in _QUERY + extra],
        "responses": {"200": {"description": "OK"}, "401": {"description": "Unauthorized"}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": gvk,
    }


def group_version_document(catalog: Catalog, group: str, version: str) -> dict[str, Any]:
    base = f"/apis/{group}/{version}" if group else "/api/v1"
    paths: dict[str, Any] = {}
    for r in catalog.in_group_version(group, version):
        scope = f"{base}/namespaces/{{namespace}}/{r.plural}" if r.namespaced else f"{base}/{r.plural}"
        params = [_path_param("namespace")] if r.namespaced else []
        collection: dict[str, Any] = {"parameters": params}
        item: dict[str, Any] = {"parameters": [*params, _path_param("name")]}
        if "create" in r.verbs:
            collection["post"] = _operation(r, "post")
        if "list" in r.verbs:
            collection["get"] = _operation(r, "list")
        if "get" in r.verbs:
            item["get"] = _operation(r, "get")
        if "update" in r.verbs:
            item["put"] = _operation(r, "put")
        if "patch" in r.verbs:
            item["patch"] = _operation(r, "patch", ("force",))
        if "delete" in r.verbs:
            item["delete"] = _operation(r, "delete")
        paths[scope] = collection
        if len(item) > 1:
            paths[f"{scope}/{{name}}"] = item
        for sub in r.subresources:
            if "patch" in sub.verbs:
                paths[f"{scope}/{{name}}/{sub.name}"] = {
                    "parameters": item["parameters"], "patch": _operation(r, "patch", ("force",))}
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.33.0"},
        "paths": paths,
        "components": {"schemas": {}},
    }


class OpenAPI:
    """Pre-encoded documents and the index that points at them by content hash."""

    def __init__(self, catalog: Catalog) -> None:
        self.documents: dict[str, bytes] = {}
        index: dict[str, Any] = {}
        for group, versions in catalog.group_versions.items():
            for version in versions:
                path = f"apis/{group}/{version}" if group else "api/v1"
                body = orjson.dumps(group_version_document(catalog, group, version))
                digest = hashlib.sha512(body).hexdigest()[:128].upper()
                self.documents[path] = body
                index[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest}"}
        self.index = orjson.dumps({"paths": index})

    def get(self, path: str) -> bytes | None:
        if path in ("/openapi/v3", "/openapi/v3/"):
            return self.index
        if path.startswith("/openapi/v3/"):
            return self.documents.get(path[len("/openapi/v3/"):])
        return None
