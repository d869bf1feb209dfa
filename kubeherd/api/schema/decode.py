"""What upstream's typed JSON decoder reports about a request body, driven by the schemas.

kube-apiserver decodes every built-in object into its Go struct with `sigs.k8s.io/json`
(case-sensitive keys). Two families of findings come out of that, and this module reproduces both
from the 1.33 schemas instead of Go structs:

* **Strict decoding errors** (`fieldValidation=Strict|Warn`): `unknown field "<path>"` for a key
  the struct does not declare, `duplicate field "<path>"` for a key written twice. The path is the
  decoder's: known field names and map keys joined with ".", list indices as "[i]"
  (`spec.containers[0].foo`, `metadata.labels.app`); nothing is checked inside an unknown field or
  inside raw JSON (RawExtension, FieldsV1, `any` shapes). Findings come in document order,
  de-duplicated, at most 100, as upstream collects them. `strict_errors` gives both kinds in the
  decoder's order; `unknown_fields` and `duplicate_fields` give one kind each. The apiserver
  joins the list with ", " after `strict decoding error: ` (create and update then wrap that in
  their `<Kind> in version "<v>" cannot be handled as a <Kind>: ...` BadRequest); Warn sends each
  finding as a warning.
* **Decode errors** (400 BadRequest whatever `fieldValidation` says): a value of the wrong JSON
  type, `json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type
  int32` (the struct is the innermost Go struct holding the field; the field path lists struct
  field names only, no indices or map keys), an integer out of its type's range, bad base64 in a
  `[]byte`, a quantity or a time that does not parse. `type_errors` lists them all in document
  order; upstream stops at the first one its decoder cannot continue past (a type with its own
  decoding: int-or-string, quantity, time) or else reports the first one it saw, which is what
  `decode_error` returns.

Known gaps, all in the wording of decode errors: Go's named scalar and map types (`v1.RestartPolicy`,
`v1.ResourceList`) are not in the schemas, so their mismatch messages name the underlying type
(`string`, `map[string]resource.Quantity`); a number is quoted as Python prints it (`1e3` in the
body reads `1000.0`).

Everything here is pure: inputs are never mutated.
"""

from __future__ import annotations

import json
from typing import Any

from kubeherd.api.quantity import QuantityError, parse_quantity
from kubeherd.api.schema._definitions import short_name
from kubeherd.api.schema._goformats import RFC3339, RFC3339_MICRO, base64_error, go_quote, time_error
from kubeherd.api.schema.node import SchemaNode

__all__ = ["decode_error", "duplicate_fields", "parse_pairs", "prune_unknown", "strict_errors", "type_errors",
           "unknown_fields"]

MAX_STRICT_ERRORS = 100
_INT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}


class Pairs(list[tuple[str, Any]]):
    """A JSON object as written: its (key, value) pairs in order, repeated keys included."""

    __slots__ = ()


def parse_pairs(body: bytes | str) -> Any:
    """`body` parsed with every object kept as `Pairs`; raises ValueError on invalid JSON."""
    return json.loads(body, object_pairs_hook=Pairs)


# --- strict decoding ------------------------------------------------------------------------


class _Findings:
    def __init__(self) -> None:
        self.seen: dict[str, None] = {}

    def add(self, message: str) -> None:
        if len(self.seen) < MAX_STRICT_ERRORS:
            self.seen.setdefault(message)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _walk_strict(node: SchemaNode | None, value: Any, path: str, out: _Findings, unknown: bool,
                 duplicates: bool) -> None:
    """`node` None: no schema (an untyped value, where every object is a map)."""
    shape = node.shape if node is not None else "untyped"
    if shape == "any" or value is None:
        return
    if isinstance(value, (dict, Pairs)):
        if shape not in ("struct", "map", "untyped"):
            return  # a type mismatch: the decoder skips the value (see type_errors)
        pairs = value.items() if isinstance(value, dict) else value
        seen: set[str] | None = set() if duplicates and isinstance(value, Pairs) else None
        values = node.values() if node is not None and shape == "map" else None
        for key, item in pairs:
            child: SchemaNode | None
            if shape == "struct":
                assert node is not None
                child = node.field(key)
                if child is None:
                    if unknown:
                        out.add(f"unknown field {go_quote(_join(path, key))}")
                    continue
            else:
                child = values
            if seen is not None:
                if key in seen:
                    out.add(f"duplicate field {go_quote(_join(path, key))}")
                else:
                    seen.add(key)
            _walk_strict(child, item, _join(path, key), out, unknown, duplicates)
    elif isinstance(value, list) and shape in ("array", "untyped"):
        items = node.items() if node is not None else None
        for index, item in enumerate(value):
            _walk_strict(items, item, f"{path}[{index}]", out, unknown, duplicates)


def strict_errors(root: SchemaNode, body: bytes | str | Any) -> list[str]:
    """Unknown and duplicate fields of a JSON body (bytes/str, or what `parse_pairs` returned),
    in the decoder's order: `unknown field "spec.x"`, `duplicate field "metadata.name"`."""
    parsed = parse_pairs(body) if isinstance(body, (bytes, str)) else body
    out = _Findings()
    _walk_strict(root, parsed, "", out, unknown=True, duplicates=True)
    return list(out.seen)


def unknown_fields(root: SchemaNode, obj: Any) -> list[str]:
    """Every field of `obj` (a parsed object) that the schema does not declare, as upstream's
    strict decoder words it: `unknown field "spec.containers[0].foo"`."""
    out = _Findings()
    _walk_strict(root, obj, "", out, unknown=True, duplicates=False)
    return list(out.seen)


def duplicate_fields(body: bytes | str, root: SchemaNode | None = None) -> list[str]:
    """Keys written twice in one JSON object of `body`: `duplicate field "spec.replicas"`.

    With `root`, objects the decoder does not look into (unknown fields, raw JSON) are skipped, as
    upstream does; without it every object in the body is checked. Raises ValueError on invalid
    JSON."""
    out = _Findings()
    _walk_strict(root, parse_pairs(body), "", out, unknown=False, duplicates=True)
    return list(out.seen)


# --- pruning (fieldValidation=Ignore) ---------------------------------------------------------


def prune_unknown(root: SchemaNode, obj: Any) -> Any:
    """A copy of `obj` without the fields the schema does not declare (what upstream's decoder
    silently drops); raw JSON and values of the wrong type are kept as they are."""
    return _prune(root, obj)


def _prune(node: SchemaNode, value: Any) -> Any:
    shape = node.shape
    if isinstance(value, dict):
        if shape == "struct":
            out = {}
            for key, item in value.items():
                child = node.field(key)
                if child is not None:
                    out[key] = _prune(child, item)
            return out
        values = node.values() if shape == "map" else None
        if values is not None:
            return {key: _prune(values, item) for key, item in value.items()}
    elif isinstance(value, list) and shape == "array":
        items = node.items()
        if items is not None:
            return [_prune(items, item) for item in value]
    return value


# --- decode errors ----------------------------------------------------------------------------


def _json_kind(value: Any) -> str:
    """How Go's decoder names a JSON value in a type error (`UnmarshalTypeError.Value`)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


class _Context:
    """The decoder's error context: the innermost struct and the struct-field path to the value."""

    __slots__ = ("struct", "field")

    def __init__(self, struct: str, field: str) -> None:
        self.struct = struct
        self.field = field

    def type_error(self, what: str, go_type: str) -> str:
        if self.struct or self.field:
            return f"json: cannot unmarshal {what} into Go struct field {self.struct}.{self.field} of type {go_type}"
        return f"json: cannot unmarshal {what} into Go value of type {go_type}"


def _number_text(value: int | float) -> str:
    return str(value) if isinstance(value, int) else repr(value)


def _integer_error(value: Any, go_type: str, ctx: _Context) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return ctx.type_error(_json_kind(value), go_type)
    low, high = _INT_RANGES.get(go_type, _INT_RANGES["int64"])
    if isinstance(value, float) or not low <= value <= high:
        return ctx.type_error(f"number {_number_text(value)}", go_type)
    return None


def _walk_types(node: SchemaNode, value: Any, ctx: _Context, out: list[tuple[str, bool]]) -> None:
    """Append (message, fatal) for each decode error; fatal ones stop upstream's decoder."""
    if value is None:
        return
    shape = node.shape
    if shape == "any":
        return
    if shape == "struct":
        if not isinstance(value, dict):
            out.append((ctx.type_error(_json_kind(value), node.go_type), False))
            return
        struct = short_name(node.name) if node.name else ctx.struct
        for key, item in value.items():
            child = node.field(key)
            if child is not None:
                _walk_types(child, item, _Context(struct, _join(ctx.field, key)), out)
    elif shape == "map":
        values = node.values()
        if not isinstance(value, dict):
            out.append((ctx.type_error(_json_kind(value), node.go_type), False))
        elif values is not None:
            for item in value.values():
                _walk_types(values, item, ctx, out)
    elif shape == "array":
        items = node.items()
        if not isinstance(value, list):
            out.append((ctx.type_error(_json_kind(value), node.go_type), False))
        elif items is not None:
            for item in value:
                _walk_types(items, item, ctx, out)
    elif shape in ("string", "bytes"):
        if not isinstance(value, str):
            out.append((ctx.type_error(_json_kind(value), node.go_type), False))
        elif shape == "bytes" and (bad := base64_error(value)) is not None:
            out.append((bad, False))
    elif shape == "integer":
        if (message := _integer_error(value, node.go_type, ctx)) is not None:
            out.append((message, False))
    elif shape in ("number", "boolean"):
        ok = (isinstance(value, (int, float)) and not isinstance(value, bool)) if shape == "number" \
            else isinstance(value, bool)
        if not ok:
            out.append((ctx.type_error(_json_kind(value), node.go_type), False))
    elif shape == "int-or-string":
        # IntOrString decodes anything but a string as an int32, with the field's context.
        if not isinstance(value, str) and (message := _integer_error(value, "int32", ctx)) is not None:
            out.append((message, True))
    elif shape == "quantity":
        text = value if isinstance(value, str) else json.dumps(value)
        try:
            parse_quantity(text.strip())
        except QuantityError as exc:
            out.append((str(exc), True))
    elif shape in ("time", "micro-time"):
        if not isinstance(value, str):
            out.append((ctx.type_error(_json_kind(value), "string"), True))
        elif (bad := time_error(value, RFC3339 if shape == "time" else RFC3339_MICRO)) is not None:
            out.append((bad, True))


def _decode_findings(root: SchemaNode, obj: Any) -> list[tuple[str, bool]]:
    out: list[tuple[str, bool]] = []
    _walk_types(root, obj, _Context("", ""), out)
    return out


def type_errors(root: SchemaNode, obj: Any) -> list[str]:
    """Every value in `obj` that upstream's typed decoder rejects, in document order, worded as
    the decoder words it (`json: cannot unmarshal string into Go struct field
    DeploymentSpec.spec.replicas of type int32`). Upstream reports one: see `decode_error`."""
    return [message for message, _ in _decode_findings(root, obj)]


def decode_error(root: SchemaNode, obj: Any) -> str | None:
    """The one decode error upstream reports for `obj`, or None: the first error its decoder
    cannot continue past if there is one, otherwise the first error it met."""
    findings = _decode_findings(root, obj)
    for message, fatal in findings:
        if fatal:
            return message
    return findings[0][0] if findings else None
