"""`SchemaNode`: one resolved, navigable view of a schema in the 1.33 definitions.

A field declared as a reference (`"$ref"`) plus its own description and extensions reads as one
node: the structure (type, fields, items, map values) comes from the referenced definition, the
description and the `x-kubernetes-*` extensions from the field, falling back to the definition's
(`LocalObjectReference` is `x-kubernetes-map-type: atomic` wherever it is used). A definition's
node is built once and shared by every field that references it; a node's fields, items and
values are built on first access and kept, so walking the same kind twice costs only dictionary
look-ups, and self-referencing definitions (`JSONSchemaProps`) are no problem.

`shape` says how upstream's typed decoder treats a value at this place, which is what the
strict-decoding and decode-error walkers (`decode.py`) dispatch on: a Go struct (`struct`: known
fields only), a map (`map`), a slice (`array`), a scalar (`string`, `bytes`, `integer`, `number`,
`boolean`), a type with its own JSON decoding (`int-or-string`, `quantity`, `time`,
`micro-time`) or raw JSON kept as written (`any`: RawExtension, FieldsV1, apiextensions JSON and
the JSONSchemaPropsOr* types, whose decoders accept anything).
"""

from __future__ import annotations

import functools
from typing import Any

from kubeherd.api.schema._definitions import (
    FREE_FORM,
    INT_OR_STRING,
    MICRO_TIME,
    QUANTITY,
    TIME,
    Schema,
    definitions,
    go_type_name,
)

__all__ = ["SchemaNode", "definition", "kind_schema"]

_EXTENSIONS = {
    "x-kubernetes-patch-strategy": "patch_strategy",
    "x-kubernetes-patch-merge-key": "patch_merge_key",
    "x-kubernetes-list-type": "list_type",
    "x-kubernetes-list-map-keys": "list_map_keys",
    "x-kubernetes-map-type": "map_type",
}


class SchemaNode:
    """A resolved schema: a definition, or a field, list item or map value within one.

    Attributes (read-only by convention):

    * `name`: the definition this node is (or references), e.g. `io.k8s.api.core.v1.PodSpec`;
      "" for inline schemas such as `[]string`.
    * `type`: "object", "array", "string", "integer", "number", "boolean", or "" when any JSON
      is accepted or the value is an int-or-string or a quantity.
    * `format`: the OpenAPI format ("int32", "int64", "byte", "date-time", "int-or-string"...).
    * `int_or_string`: an `IntOrString` (a JSON string or integer).
    * `preserve_unknown`: the value is kept as written (RawExtension, FieldsV1, arbitrary JSON):
      there are no unknown fields inside it.
    * `patch_strategy`, `patch_merge_key`, `list_type` ("atomic"|"set"|"map"|""),
      `list_map_keys`, `map_type`: the `x-kubernetes-*` extensions ("" / () when absent).
    * `description`, `required` (required field names), `shape` (see the module docstring).
    """

    __slots__ = ("name", "type", "format", "int_or_string", "preserve_unknown", "description", "required",
                 "patch_strategy", "patch_merge_key", "list_type", "list_map_keys", "map_type", "shape",
                 "_schema", "_target", "_fields", "_items", "_values")

    name: str
    type: str
    format: str
    int_or_string: bool
    preserve_unknown: bool
    description: str
    required: tuple[str, ...]
    patch_strategy: str
    patch_merge_key: str
    list_type: str
    list_map_keys: tuple[str, ...]
    map_type: str
    shape: str

    def __init__(self, schema: Schema, name: str = "") -> None:
        """`schema` as `_definitions` normalized it; `name` when it is a whole definition."""
        self._schema = schema
        self._fields: dict[str, SchemaNode | None] = {}
        self._items: SchemaNode | None = None
        self._values: SchemaNode | None = None
        ref = schema.get("$ref")
        target = definition(ref) if ref else None
        self._target = target
        if target is not None:
            for attr in ("name", "type", "format", "int_or_string", "preserve_unknown", "required", "shape"):
                setattr(self, attr, getattr(target, attr))
            self.description = schema.get("description") or target.description
            for key, attr in _EXTENSIONS.items():
                value = schema.get(key)
                setattr(self, attr, _extension(value) if value is not None else getattr(target, attr))
            return
        self.name = name
        self.format = schema.get("format", "")
        self.description = schema.get("description", "")
        self.required = tuple(schema.get("required", ()))
        for key, attr in _EXTENSIONS.items():
            setattr(self, attr, _extension(schema.get(key)))
        declared = schema.get("type", "")
        self.type = declared if isinstance(declared, str) else ""
        self.int_or_string = name == INT_OR_STRING or self.format == "int-or-string"
        self.shape = _shape(schema, name, self.type, self.format)
        self.preserve_unknown = self.shape == "any" or bool(schema.get("x-kubernetes-preserve-unknown-fields"))

    # --- navigation ------------------------------------------------------------------------

    def field(self, name: str) -> SchemaNode | None:
        """The schema of property `name`; None when the object declares no such field."""
        if self._target is not None:
            return self._target.field(name)
        try:
            return self._fields[name]
        except KeyError:
            pass
        props = self._schema.get("properties")
        sub = props.get(name) if props else None
        node = SchemaNode(sub) if sub is not None else None
        if props and name in props:  # unknown names are not cached: they could be anything
            self._fields[name] = node
        return node

    def items(self) -> SchemaNode | None:
        """The schema of an array's elements."""
        if self._target is not None:
            return self._target.items()
        if self._items is None:
            sub = self._schema.get("items")
            if isinstance(sub, dict):
                self._items = SchemaNode(sub)
        return self._items

    def values(self) -> SchemaNode | None:
        """The schema of a map's values (`additionalProperties`)."""
        if self._target is not None:
            return self._target.values()
        if self._values is None:
            sub = self._schema.get("additionalProperties")
            if isinstance(sub, dict):
                self._values = SchemaNode(sub)
        return self._values

    @property
    def field_names(self) -> tuple[str, ...]:
        """The declared properties, in the definition's order."""
        if self._target is not None:
            return self._target.field_names
        return tuple(self._schema.get("properties", ()))

    @property
    def go_type(self) -> str:
        """The Go type upstream decodes this value into, as its decode errors print it."""
        if self.name:
            return go_type_name(self.name)
        shape = self.shape
        if shape == "array":
            items = self.items()
            return "[]" + (items.go_type if items else "interface {}")
        if shape == "map":
            values = self.values()
            return "map[string]" + (values.go_type if values else "interface {}")
        if shape == "integer":
            return self.format if self.format in ("int32", "int64") else "int64"
        return {"bytes": "[]uint8", "number": "float64", "boolean": "bool", "string": "string"}.get(
            shape, "interface {}")

    def __repr__(self) -> str:
        return f"<SchemaNode {self.name or self.shape}>"


def _extension(value: Any) -> Any:
    if value is None:
        return ""
    return tuple(value) if isinstance(value, list) else value


def _shape(schema: Schema, name: str, type_: str, fmt: str) -> str:
    if name == INT_OR_STRING or fmt == "int-or-string":
        return "int-or-string"
    if name == QUANTITY:
        return "quantity"
    if name == TIME:
        return "time"
    if name == MICRO_TIME:
        return "micro-time"
    if name in FREE_FORM or schema.get("x-kubernetes-preserve-unknown-fields"):
        return "any"
    if type_ == "object" or (not type_ and "properties" in schema):
        if "properties" in schema:
            return "struct"
        if isinstance(schema.get("additionalProperties"), dict):
            return "map"
        return "struct" if name else "any"  # a named field-less object is an empty Go struct
    if type_ == "array":
        return "array"
    if type_ == "string":
        return "bytes" if fmt == "byte" else "string"
    if type_ in ("integer", "number", "boolean"):
        return type_
    return "any"


@functools.cache
def definition(name: str) -> SchemaNode | None:
    """The node of definition `name` (e.g. `io.k8s.api.core.v1.PodSpec`); one per name."""
    schema = definitions().schemas.get(name)
    return SchemaNode(schema, name) if schema is not None else None


def kind_schema(group: str, version: str, kind: str) -> SchemaNode | None:
    """The schema of a kind by its group ("" for core), version and kind; None if 1.33 has none."""
    name = definitions().by_gvk.get((group, version, kind))
    return definition(name) if name else None
