"""Tolerant accessors for JSON-shaped objects.

Validators receive whatever the client sent.  These helpers read a field as the type
the schema promises and fall back to an empty value otherwise, so one malformed field
yields a cause instead of a traceback.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any, TypeGuard

from kubeherd.api.quantity import Quantity, QuantityError, parse_quantity
from kubeherd.api.validation.field import Cause, invalid, type_invalid

EMPTY: Mapping[str, Any] = {}


def mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else EMPTY


def seq(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else []


def string(value: Any) -> str:
    return value if isinstance(value, str) else ""


def is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def integer(
    obj: Mapping[str, Any], key: str, path: str, errs: list[Cause], default: int | None = None
) -> int | None:
    """``obj[key]`` as an int, the default when absent, a cause when mistyped."""
    value = obj.get(key)
    if value is None:
        return default
    if is_int(value):
        return int(value)
    errs.append(type_invalid(path, value, "must be of type integer"))
    return default


def quantity(value: Any, path: str, errs: list[Cause]) -> Quantity | None:
    """Parse a quantity field; upstream rejects bad ones while decoding the body."""
    if is_int(value) or isinstance(value, float):
        value = str(value)
    try:
        return parse_quantity(value)
    except QuantityError as e:
        errs.append(invalid(path, value, str(e)))
        return None


def data_size(value: Any) -> int:
    """Decoded byte length of a base64 ``data`` value (as upstream counts it)."""
    if not isinstance(value, str):
        return 0
    try:
        return len(base64.b64decode(value, validate=True))
    except (binascii.Error, ValueError):
        return len(value.encode())


def decoded(value: Any) -> bytes:
    if not isinstance(value, str):
        return b""
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return value.encode()
