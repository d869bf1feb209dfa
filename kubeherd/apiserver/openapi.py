"""OpenAPI v3 documents, one per group-version, derived from the Swagger 2.0 document.

kubectl 1.29+ reads `/openapi/v3` and, when a group-version's `patch` operations declare the
`fieldValidation` parameter and the kind's `x-kubernetes-group-version-kind`, leaves field
validation to the server. `kubectl explain` (1.27+) renders a kind's schema from the same
document: it finds the kind's operations under the resource's path, takes their
`x-kubernetes-group-version-kind`, and looks for the component schema carrying that marker;
`kubectl apply` reads the `x-kubernetes-patch-*` extensions there to build strategic merge patches.

The paths and operations are those of the v2 document (`openapi_v2.swagger_document`), rewritten
into v3's shape (parameter types move under `schema`, response schemas under `content`, and write
operations declare their `requestBody` as upstream's do: the kind for post and put, a `Patch` in
each patch type for patch) and split by group-version; `components.schemas` holds the 1.33 schemas the group-version's operations
answer with and everything they reference (`kubeherd.api.schema.openapi_v3_components`).

All documents are encoded when the server starts (about 20 ms for the 19 group-versions);
the index points at each by the hash of its bytes, which is stable for a given build because
every document is built in a deterministic order.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from kubeherd.api.resources import Catalog
from kubeherd.api.schema import KUBERNETES_VERSION, openapi_v3_components
from kubeherd.apiserver.openapi_v2 import DEFINITIONS_REF, response_schemas, swagger_document

COMPONENTS_REF = "#/components/schemas/"
PATCH = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch"
# What upstream's operations declare they can answer with.
_RESPONSE_MEDIA_TYPES = ("application/json", "application/yaml", "application/vnd.kubernetes.protobuf")
# The patch types a built-in kind's patch operation accepts. kubectl computes a strategic merge
# patch from these documents' schemas only when its kind's patch operation lists that type.
_PATCH_MEDIA_TYPES = ("application/apply-patch+yaml", "application/json-patch+json", "application/merge-patch+json",
                      "application/strategic-merge-patch+json")


def _v3_parameter(param: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in param.items() if k not in ("type", "uniqueItems")}
    out["schema"] = {"type": param.get("type", "string"), "uniqueItems": True}
    return out


def _v3_responses(responses: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for code, response in responses.items():
        item: dict[str, Any] = {}
        schema = response.get("schema")
        if schema is not None:
            ref = {"$ref": COMPONENTS_REF + schema["$ref"].removeprefix(DEFINITIONS_REF)}
            item["content"] = {media: {"schema": ref} for media in _RESPONSE_MEDIA_TYPES}
        item["description"] = response.get("description", "")
        out[code] = item
    return out


def _request_body(op: dict[str, Any]) -> dict[str, Any] | None:
    """The body a write operation takes: the kind for post/put, a Patch for patch."""
    action = op.get("x-kubernetes-action")
    if action == "patch":
        ref = {"$ref": COMPONENTS_REF + PATCH}
        return {"content": {media: {"schema": ref} for media in _PATCH_MEDIA_TYPES}, "required": True}
    if action in ("post", "put"):
        schema = op.get("responses", {}).get("200", {}).get("schema")
        if schema is not None:
            ref = {"$ref": COMPONENTS_REF + schema["$ref"].removeprefix(DEFINITIONS_REF)}
            return {"content": {"*/*": {"schema": ref}}, "required": True}
    return None


def _v3_operation(op: dict[str, Any]) -> dict[str, Any]:
    out = dict(op)
    out["parameters"] = [_v3_parameter(p) for p in op.get("parameters", [])]
    body = _request_body(op)
    if body is not None:
        out["requestBody"] = body
    if "responses" in op:
        out["responses"] = _v3_responses(op["responses"])
    return out


def _v3_path_item(item: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in item.items():
        if key == "parameters":
            out[key] = [_v3_parameter(p) for p in value]
        else:
            out[key] = _v3_operation(value)
    return out


def _group_version_path(path: str) -> str:
    """`/apis/apps/v1/...` → `apis/apps/v1`; `/api/v1/...` → `api/v1`."""
    parts = path.strip("/").split("/")
    return "/".join(parts[:2] if parts[0] == "api" else parts[:3])


def _group_version(gv_path: str) -> tuple[str, str]:
    """`apis/apps/v1` → ("apps", "v1"); `api/v1` → ("", "v1")."""
    parts = gv_path.split("/")
    return ("", parts[1]) if parts[0] == "api" else (parts[1], parts[2])


def group_version_document(gv_path: str, v2_paths: dict[str, Any]) -> dict[str, Any]:
    """The v3 document of one group-version, from its paths in the v2 document."""
    group, version = _group_version(gv_path)
    paths = {path: _v3_path_item(item) for path, item in v2_paths.items()}
    roots = response_schemas(v2_paths)
    if any("patch" in item for item in paths.values()):
        roots.append(PATCH)
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": KUBERNETES_VERSION},
        "paths": paths,
        "components": openapi_v3_components(group, version, roots),
    }


class OpenAPI:
    """Pre-encoded v3 documents and the index that points at them by content hash."""

    def __init__(self, catalog: Catalog) -> None:
        grouped: dict[str, dict[str, Any]] = {}
        for path, item in swagger_document(catalog)["paths"].items():
            grouped.setdefault(_group_version_path(path), {})[path] = item
        self.documents: dict[str, bytes] = {}
        index: dict[str, Any] = {}
        for gv, paths in grouped.items():
            body = orjson.dumps(group_version_document(gv, paths))
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
