"""Field errors as upstream's ``k8s.io/apimachinery/pkg/util/validation/field`` renders them.

A validation failure is a :class:`Cause`: the cause type (``FieldValueInvalid`` ...),
the field path (``spec.containers[0].name``) and the message upstream puts into a
Status cause, i.e. ``field.Error.ErrorBody()``: the error type's title, the offending
value printed the way Go's ``fmt`` prints it, and the detail.  kubectl shows these
strings to users unchanged, so the value rendering copies Go's conventions: strings
quoted with ``strconv.Quote``, numbers bare, ``null`` for nil, ``[]string{"a"}`` and
``map[string]string{"k":"v"}`` for collections.  Values of Go struct types that
cannot be reproduced exactly (whole pod templates) are passed as :class:`GoRaw`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kubeherd.api.gostrings import go_quote

__all__ = [
    "FIELD_IMMUTABLE",
    "IS_NEGATIVE",
    "OMIT",
    "Cause",
    "GoRaw",
    "aggregate_message",
    "child",
    "duplicate",
    "forbidden",
    "go_quote",
    "go_value",
    "index",
    "internal_error",
    "invalid",
    "invalid_message",
    "invalid_status",
    "key",
    "not_found",
    "not_supported",
    "required",
    "too_long",
    "too_many",
    "type_invalid",
]

FIELD_IMMUTABLE = "field is immutable"
IS_NEGATIVE = "must be greater than or equal to 0"

INVALID = "FieldValueInvalid"
REQUIRED = "FieldValueRequired"
NOT_SUPPORTED = "FieldValueNotSupported"
FORBIDDEN = "FieldValueForbidden"
DUPLICATE = "FieldValueDuplicate"
TOO_LONG = "FieldValueTooLong"
TOO_MANY = "FieldValueTooMany"
NOT_FOUND = "FieldValueNotFound"
TYPE_INVALID = "FieldValueTypeInvalid"
INTERNAL = "InternalError"


@dataclass(frozen=True)
class Cause:
    """One entry of ``details.causes`` in a 422 Invalid Status."""

    type: str
    message: str
    field: str

    def __str__(self) -> str:
        # upstream field.Error.Error(): "<field>: <body>"
        return f"{self.field}: {self.message}"

    def to_dict(self) -> dict[str, str]:
        return {"reason": self.type, "message": self.message, "field": self.field}


class GoRaw(str):
    """A value already rendered the way Go's ``%#v`` would print it."""


class _Omit:
    def __repr__(self) -> str:
        return "OMIT"


OMIT: Any = _Omit()


# Paths -------------------------------------------------------------------------------


def child(path: str | None, *names: str) -> str:
    """``path.name`` (upstream ``Path.Child``); a missing path starts a new one."""
    out = path or ""
    for name in names:
        out = f"{out}.{name}" if out else name
    return out


def index(path: str | None, i: int) -> str:
    return f"{path or ''}[{i}]"


def key(path: str | None, k: str) -> str:
    return f"{path or ''}[{k}]"


def _field(path: str | None) -> str:
    # upstream renders a nil *Path as "<nil>"
    return "<nil>" if path is None else path


# Go value rendering ------------------------------------------------------------------



def _go_float(value: float) -> str:
    if value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return repr(value)


def go_value(value: Any) -> str:
    """Render a bad value the way ``field.Error.ErrorBody`` does."""
    if isinstance(value, GoRaw):
        return str(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, (list, tuple)):
        if all(isinstance(v, str) for v in value):
            return "[]string{" + ", ".join(go_quote(v) for v in value) + "}"
        if all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            return "[]int32{" + ", ".join(str(v) for v in value) + "}"
    if isinstance(value, Mapping) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        return go_string_map(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def go_string_map(value: Mapping[str, str] | None) -> str:
    """``%#v`` of a ``map[string]string`` (keys sorted, nil printed as such)."""
    if value is None:
        return "map[string]string(nil)"
    items = ", ".join(f"{go_quote(k)}:{go_quote(v)}" for k, v in sorted(value.items()))
    return "map[string]string{" + items + "}"


def go_string_slice(value: Iterable[str] | None) -> str:
    if value is None:
        return "[]string(nil)"
    return "[]string{" + ", ".join(go_quote(v) for v in value) + "}"


# Constructors (one per upstream field.* helper) ----------------------------------------


def _with_detail(body: str, detail: str) -> str:
    return f"{body}: {detail}" if detail else body


def invalid(path: str | None, value: Any, detail: str = "") -> Cause:
    body = "Invalid value" if value is OMIT else f"Invalid value: {go_value(value)}"
    return Cause(INVALID, _with_detail(body, detail), _field(path))


def type_invalid(path: str | None, value: Any, detail: str = "") -> Cause:
    body = "Invalid value" if value is OMIT else f"Invalid value: {go_value(value)}"
    return Cause(TYPE_INVALID, _with_detail(body, detail), _field(path))


def required(path: str | None, detail: str = "") -> Cause:
    return Cause(REQUIRED, _with_detail("Required value", detail), _field(path))


def forbidden(path: str | None, detail: str = "") -> Cause:
    return Cause(FORBIDDEN, _with_detail("Forbidden", detail), _field(path))


def duplicate(path: str | None, value: Any) -> Cause:
    return Cause(DUPLICATE, f"Duplicate value: {go_value(value)}", _field(path))


def not_found(path: str | None, value: Any, detail: str = "") -> Cause:
    return Cause(NOT_FOUND, _with_detail(f"Not found: {go_value(value)}", detail), _field(path))


def not_supported(path: str | None, value: Any, valid_values: Iterable[str]) -> Cause:
    valid = list(valid_values)
    detail = "supported values: " + ", ".join(go_quote(str(v)) for v in valid) if valid else ""
    return Cause(NOT_SUPPORTED, _with_detail(f"Unsupported value: {go_value(value)}", detail), _field(path))


def too_long(path: str | None, max_length: int) -> Cause:
    # Kubernetes 1.33 wording; the value itself is never echoed back
    detail = f"may not be more than {max_length} bytes" if max_length >= 0 else "value is too long"
    return Cause(TOO_LONG, f"Too long: {detail}", _field(path))


def too_many(path: str | None, actual: int, max_quantity: int) -> Cause:
    detail = f"must have at most {max_quantity} items" if max_quantity >= 0 else "has too many items"
    body = "Too many" if actual < 0 else f"Too many: {actual}"
    return Cause(TOO_MANY, f"{body}: {detail}", _field(path))


def internal_error(path: str | None, err: str) -> Cause:
    return Cause(INTERNAL, f"Internal error: {err}", _field(path))


# Aggregation -----------------------------------------------------------------------------


def aggregate_message(causes: Iterable[Cause | str]) -> str:
    """Upstream's ``ErrorList.ToAggregate().Error()``: de-duplicated, bracketed if several."""
    seen: list[str] = []
    for c in causes:
        text = str(c)
        if text not in seen:
            seen.append(text)
    if len(seen) == 1:
        return seen[0]
    return "[" + ", ".join(seen) + "]"


def invalid_message(kind_and_group: str, name: str, causes: Iterable[Cause]) -> str:
    """The Status message of a 422: ``Deployment.apps "x" is invalid: [...]``.

    ``kind_and_group`` is ``Kind`` for the core group and ``Kind.group`` otherwise
    (upstream ``GroupKind.String()``).
    """
    causes = list(causes)
    if not causes:
        return f"{kind_and_group} {go_quote(name)} is invalid"
    return f"{kind_and_group} {go_quote(name)} is invalid: {aggregate_message(causes)}"


def invalid_status(group: str, kind: str, name: str, causes: Iterable[Cause]) -> dict[str, Any]:
    """The whole ``Status`` object upstream returns for a validation failure (422)."""
    causes = list(causes)
    kind_and_group = f"{kind}.{group}" if group else kind
    details: dict[str, Any] = {"name": name, "group": group, "kind": kind}
    if not group:
        del details["group"]
    if causes:
        details["causes"] = [c.to_dict() for c in causes]
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": invalid_message(kind_and_group, name, causes),
        "reason": "Invalid",
        "details": details,
        "code": 422,
    }
