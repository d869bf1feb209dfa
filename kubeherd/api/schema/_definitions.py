"""The Kubernetes 1.33 API definitions, read once from the `kubernetes-validate` package data.

Why this source: `kubernetes-validate` (a pinned dependency) ships, per Kubernetes version, the
upstream OpenAPI definitions turned into JSON schema: every built-in type with its field
descriptions, `required` lists, `x-kubernetes-group-version-kind` and the `x-kubernetes-patch-*`,
`-list-*` and `-map-type` extensions. That is everything the schema-driven parts of kubeherd need
(unknown-field detection, decode errors, strategic merge keys, server-side apply list semantics,
`kubectl explain`), so none of it is written by hand here.

The generator that produced the file changed a few things, which `_normalize` undoes so that the
definitions read as upstream's OpenAPI does:

* optional fields are typed `["<type>", "null"]`: the `"null"` is dropped;
* `apiVersion` and `kind` of every kind carry an `enum` of the kind's own values: dropped
  (upstream declares no enum there);
* references read `#/$defs/<name>`: kept as the bare definition name, each OpenAPI rendering
  adds its own prefix;
* `IntOrString` and `Quantity` are rewritten to upstream's OpenAPI v3 shapes (`oneOf` integer or
  string with format `int-or-string`; `oneOf` string or number). Their type descriptions were
  lost by the generator and are not invented here.

Size and speed, measured on this machine: the file is 1.4 MB (707 definitions); reading and
normalizing it takes about 8 ms (orjson; the package is located without being imported, which
would cost 40 ms of jsonschema imports) and keeps 2.5 MB of Python objects alive (about 21 MB at
the peak of the load). It is read on first use, not at import, and once per process
(`definitions()` is cached).
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

__all__ = ["Definitions", "definitions", "go_type_name", "short_name"]

KUBERNETES_VERSION = "v1.33.0"
_PACKAGE = "kubernetes_validate"
_RESOURCE = ("kubernetes-json-schema", f"{KUBERNETES_VERSION}-local", "_definitions.json")
_REF_PREFIX = "#/$defs/"

INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
TIME = "io.k8s.apimachinery.pkg.apis.meta.v1.Time"
MICRO_TIME = "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime"
# Objects without declared fields that hold arbitrary JSON (their Go types keep the raw bytes).
# Other field-less object definitions (meta/v1 Patch, CustomResourceSubresourceStatus, ...) are
# empty Go structs: any key in them is an unknown field.
FREE_FORM = frozenset({
    "io.k8s.apimachinery.pkg.runtime.RawExtension",
    "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1",
})

Schema = dict[str, Any]
GVK = tuple[str, str, str]


@dataclass(frozen=True)
class Definitions:
    """Every 1.33 definition by name, and the kinds by (group, version, kind)."""

    schemas: dict[str, Schema]
    by_gvk: dict[GVK, str]
    # (group, version) -> definition names tagged with a kind of that group-version
    by_group_version: dict[tuple[str, str], list[str]] = field(default_factory=dict)


def _normalize(schema: Schema, name: str = "") -> Schema:
    out: Schema = {}
    for key, value in schema.items():
        if key == "type" and isinstance(value, list):
            types = [t for t in value if t != "null"]
            value = types[0] if len(types) == 1 else types
        elif key == "$ref":
            value = value.removeprefix(_REF_PREFIX)
        elif key == "properties":
            value = {prop: _normalize(sub, prop) for prop, sub in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            value = _normalize(value)
        elif key == "oneOf":
            value = [_normalize(sub) for sub in value]
        elif key == "enum" and name in ("apiVersion", "kind"):
            continue
        out[key] = value
    return out


def _special(name: str, schema: Schema) -> Schema:
    if name == INT_OR_STRING:
        kept = {k: v for k, v in schema.items() if k == "description"}
        return {**kept, "format": "int-or-string", "oneOf": [{"type": "integer"}, {"type": "string"}]}
    if name == QUANTITY:
        kept = {k: v for k, v in schema.items() if k == "description"}
        return {**kept, "oneOf": [{"type": "string"}, {"type": "number"}]}
    return schema


def _read() -> bytes:
    # find_spec locates the package without importing it: importing kubernetes_validate would
    # pull in jsonschema and friends (40 ms) for nothing.
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the {_PACKAGE} package (the 1.33 API definitions) is not installed")
    return Path(next(iter(spec.submodule_search_locations)), *_RESOURCE).read_bytes()


@functools.cache
def definitions() -> Definitions:
    """The normalized definitions (read on first call; the same object afterwards)."""
    raw = orjson.loads(_read())["$defs"]
    schemas = {name: _special(name, _normalize(schema)) for name, schema in raw.items()}
    by_gvk: dict[GVK, str] = {}
    by_gv: dict[tuple[str, str], list[str]] = {}
    for name, schema in schemas.items():
        for gvk in schema.get("x-kubernetes-group-version-kind", ()):
            key = (gvk["group"], gvk["version"], gvk["kind"])
            by_gvk.setdefault(key, name)
            names = by_gv.setdefault(key[:2], [])
            if name not in names:
                names.append(name)
    return Definitions(schemas, by_gvk, by_gv)


def short_name(name: str) -> str:
    """`io.k8s.api.core.v1.PodSpec` → `PodSpec` (the Go type's name)."""
    return name.rsplit(".", 1)[-1]


def go_type_name(name: str) -> str:
    """`io.k8s.api.core.v1.PodSpec` → `v1.PodSpec`: package and type, as Go's `%v` of a type prints."""
    return ".".join(name.split(".")[-2:])
