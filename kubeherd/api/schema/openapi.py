"""The 1.33 definitions rendered for the OpenAPI documents kube-apiserver serves.

`/openapi/v3/<group-version>` documents carry `components.schemas` and `/openapi/v2` carries
`definitions`, keyed by definition name (`io.k8s.api.core.v1.Pod`). The two renderings differ the
way upstream's do:

* v3 references read `#/components/schemas/<name>`; a reference with a description or extensions
  beside it is wrapped as `{"allOf": [{"$ref": ...}], "description": ...}` (OpenAPI 3.0 ignores
  siblings of `$ref`); `IntOrString` and `Quantity` are `oneOf` their JSON types.
* v2 references read `#/definitions/<name>` and keep their siblings; `IntOrString` is a string
  of format `int-or-string`, `Quantity` a string.

Both keep descriptions, `required`, formats, `x-kubernetes-group-version-kind` on kinds and the
`x-kubernetes-patch-*`, `-list-*`, `-map-type` and `-unions` extensions (kubectl reads the patch
extensions from these documents to build strategic merge patches, and the kind markers to find a
kind's schema for `explain`). A document holds the definitions its roots reach, nothing else.

Each definition is rendered once per process and the result shared: callers serialize the
returned structures and must not modify them.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from kubeherd.api.schema._definitions import Schema, definitions

__all__ = ["definition_name", "openapi_v3_components", "reachable", "swagger_definitions", "v2_schema",
           "v3_schema"]

V3_REF = "#/components/schemas/"
V2_REF = "#/definitions/"


def definition_name(group: str, version: str, kind: str) -> str | None:
    """The definition of a kind (`("apps", "v1", "Deployment")` → `io.k8s.api.apps.v1.Deployment`)."""
    return definitions().by_gvk.get((group, version, kind))


@functools.cache
def _refs(name: str) -> tuple[str, ...]:
    """The definitions `name` references directly."""
    found: list[str] = []

    def walk(schema: Schema) -> None:
        ref = schema.get("$ref")
        if ref and ref not in found:
            found.append(ref)
        for sub in schema.get("properties", {}).values():
            walk(sub)
        for key in ("items", "additionalProperties"):
            if isinstance(schema.get(key), dict):
                walk(schema[key])
        for sub in schema.get("oneOf", ()):
            walk(sub)

    walk(definitions().schemas[name])
    return tuple(found)


def reachable(roots: Iterable[str]) -> list[str]:
    """`roots` (definition names; unknown ones are skipped) and everything they reference, sorted."""
    schemas = definitions().schemas
    seen: set[str] = set()
    todo = [name for name in roots if name in schemas]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(ref for ref in _refs(name) if ref not in seen)
    return sorted(seen)


def _render(schema: Schema, prefix: str, v3: bool) -> Schema:
    out: Schema = {}
    ref = schema.get("$ref")
    for key, value in schema.items():
        if key == "$ref":
            continue
        if key == "properties":
            value = {name: _render(sub, prefix, v3) for name, sub in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            value = _render(value, prefix, v3)
        elif key == "oneOf":
            if not v3:  # Swagger 2.0 has no oneOf: upstream declares these values strings
                out["type"] = "string"
                continue
            value = [_render(sub, prefix, v3) for sub in value]
        out[key] = value
    if ref is None:
        return out
    target = {"$ref": prefix + ref}
    if not v3:
        return {**target, **out}
    return {"allOf": [target], **out} if out else target


@functools.cache
def v3_schema(name: str) -> Schema:
    """Definition `name` as an OpenAPI v3 component schema (shared: do not modify)."""
    return _render(definitions().schemas[name], V3_REF, v3=True)


@functools.cache
def v2_schema(name: str) -> Schema:
    """Definition `name` as a Swagger 2.0 definition (shared: do not modify)."""
    return _render(definitions().schemas[name], V2_REF, v3=False)


def _group_version_roots(group: str, version: str) -> list[str]:
    return list(definitions().by_group_version.get((group, version), ()))


def openapi_v3_components(group: str, version: str, roots: Iterable[str] | None = None) -> dict[str, Any]:
    """`components` of the `/openapi/v3` document of a group-version ("" for core).

    `roots` are the definitions the document's operations name (the served kinds, their lists,
    subresource kinds, Status...); by default every 1.33 definition tagged with a kind of the
    group-version. The schemas are those and everything they reference, by name."""
    names = reachable(_group_version_roots(group, version) if roots is None else roots)
    return {"schemas": {name: v3_schema(name) for name in names}}


def swagger_definitions(roots: Iterable[str] | None = None) -> dict[str, Any]:
    """Swagger 2.0 `definitions`: `roots` (default: all 1.33 definitions) and what they reference."""
    names = reachable(definitions().schemas if roots is None else roots)
    return {name: v2_schema(name) for name in names}
