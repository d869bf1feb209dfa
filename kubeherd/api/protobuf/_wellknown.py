"""Codecs for the messages whose JSON form is not field by field.

In Go these types have their own ``MarshalJSON`` (the generator lists them in
``tables.CUSTOM_JSON``): a ``Time`` is an RFC 3339 string, a ``Quantity`` a string, an
``IntOrString`` an int or a string, a ``RawExtension`` embedded JSON, and so on. The engine
decodes such a message field by field under its proto names (bytes stay ``bytes``) and hands
the dict to ``decode``; ``encode`` is the inverse and returns the proto fields a Go client
would write (gogo-protobuf writes non-pointer fields even when they are zero, and so do we).

Each codec mirrors the upstream MarshalJSON/UnmarshalJSON of its type in k8s.io/apimachinery
(``pkg/apis/meta/v1/time.go``, ``micro_time.go``, ``duration.go``, ``helpers.go`` (FieldsV1),
``pkg/api/resource/quantity.go``, ``pkg/util/intstr/intstr.go``, ``pkg/runtime/extension.go``)
and k8s.io/apiextensions-apiserver ``pkg/apis/apiextensions/v1/marshal.go``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import orjson

from ._wire import ProtobufError

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_GO_ZERO_TIME = -62135596800  # seconds of Go's zero time.Time, 0001-01-01T00:00:00Z, which is JSON null


class Codec(Protocol):
    """Converts between a message's proto fields (by proto name) and its JSON value."""

    def decode(self, fields: dict[str, Any]) -> Any: ...

    def encode(self, value: Any) -> dict[str, Any]: ...


class TimeCodec:
    """``metav1.Time`` (RFC 3339, seconds) and ``metav1.MicroTime`` (6 fractional digits).

    The zero time travels as an empty message and is ``null`` in JSON.
    """

    def __init__(self, micro: bool) -> None:
        self.micro = micro

    def decode(self, fields: dict[str, Any]) -> Any:
        if not fields:
            return None
        seconds = fields.get("seconds", 0)
        nanos = fields.get("nanos", 0)
        if seconds == _GO_ZERO_TIME and nanos == 0:
            return None
        try:
            t = _EPOCH + timedelta(seconds=seconds)
        except OverflowError:
            raise ProtobufError(f"time out of range: {seconds} seconds") from None
        text = f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}"
        if self.micro:
            text += f".{nanos // 1000:06d}"
        return text + "Z"

    def encode(self, value: Any) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, str):
            raise ProtobufError(f"a time must be an RFC 3339 string, not {type(value).__name__}")
        seconds, nanos = parse_rfc3339(value)
        return {"seconds": seconds, "nanos": nanos}


_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))\Z"
)


def parse_rfc3339(text: str) -> tuple[int, int]:
    """Seconds since the epoch and nanoseconds of an RFC 3339 timestamp."""
    m = _RFC3339.match(text)
    if m is None:
        raise ProtobufError(f"invalid RFC 3339 time {text!r}")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    try:
        t = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError as e:
        raise ProtobufError(f"invalid RFC 3339 time {text!r}: {e}") from None
    if m.group(9):
        offset = timedelta(hours=int(m.group(10)), minutes=int(m.group(11)))
        t -= offset if m.group(9) == "+" else -offset
    delta = t - _EPOCH
    nanos = int((m.group(7) or "0").ljust(9, "0"))
    return delta.days * 86400 + delta.seconds, nanos


class DurationCodec:
    """``metav1.Duration``: nanoseconds on the wire, Go's ``time.Duration.String()`` in JSON."""

    def decode(self, fields: dict[str, Any]) -> Any:
        return format_duration(fields.get("duration", 0))

    def encode(self, value: Any) -> dict[str, Any]:
        if value is None:
            return {"duration": 0}
        if not isinstance(value, str):
            raise ProtobufError(f"a duration must be a string like \"1h2m3s\", not {value!r}")
        return {"duration": parse_duration(value)}


def _frac(u: int, prec: int) -> tuple[str, int]:
    digits: list[str] = []
    printed = False
    for _ in range(prec):
        digit = u % 10
        printed = printed or digit != 0
        if printed:
            digits.append(str(digit))
        u //= 10
    return ("." + "".join(reversed(digits)) if printed else ""), u


def format_duration(nanos: int) -> str:
    """Go's ``time.Duration.String()``: ``1h2m3.5s``, ``1.5ms``, ``0s``."""
    neg = nanos < 0
    u = -nanos if neg else nanos
    if u < 1_000_000_000:
        if u == 0:
            return "0s"
        if u < 1_000:
            prec, unit = 0, "ns"
        elif u < 1_000_000:
            prec, unit = 3, "µs"
        else:
            prec, unit = 6, "ms"
        frac, u = _frac(u, prec)
        text = f"{u}{frac}{unit}"
    else:
        frac, u = _frac(u, 9)
        text = f"{u % 60}{frac}s"
        u //= 60
        if u > 0:
            text = f"{u % 60}m{text}"
            u //= 60
            if u > 0:
                text = f"{u}h{text}"
    return "-" + text if neg else text


_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
          "m": 60_000_000_000, "h": 3_600_000_000_000}
_DURATION_PART = re.compile(r"(\d*)(?:\.(\d*))?([a-zµμ]+)")


def parse_duration(text: str) -> int:
    """Go's ``time.ParseDuration`` (in nanoseconds)."""
    s = text
    neg = s.startswith("-")
    if s[:1] in "+-":
        s = s[1:]
    if s == "0":
        return 0
    if not s:
        raise ProtobufError(f"invalid duration {text!r}")
    total = 0
    pos = 0
    while pos < len(s):
        m = _DURATION_PART.match(s, pos)
        if m is None or (not m.group(1) and not m.group(2)) or m.group(3) not in _UNITS:
            raise ProtobufError(f"invalid duration {text!r}")
        whole, frac, unit = m.group(1) or "0", m.group(2) or "", _UNITS[m.group(3)]
        total += int(whole) * unit + (int(frac) * unit // 10 ** len(frac) if frac else 0)
        pos = m.end()
    return -total if neg else total


class RawJSONCodec:
    """Raw JSON bytes in field ``field`` (FieldsV1, apiextensions JSON); ``null`` when unset.

    ``RawExtension`` uses it too; a raw value that is itself a protobuf object (``k8s\\0``)
    is decoded by the engine, which passes ``embedded``.
    """

    def __init__(self, field: str, embedded: Any = None) -> None:
        self.field = field
        self.embedded = embedded

    def decode(self, fields: dict[str, Any]) -> Any:
        raw = fields.get(self.field)
        if not raw:
            return None
        if self.embedded is not None and raw[:4] == b"k8s\x00":
            return self.embedded(raw)
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as e:
            raise ProtobufError(f"embedded JSON is invalid: {e}") from None

    def encode(self, value: Any) -> dict[str, Any]:
        if value is None:
            return {}
        return {self.field: orjson.dumps(value)}


class QuantityCodec:
    """``resource.Quantity``: its canonical string in field 1 (``"0"`` for the zero quantity)."""

    def decode(self, fields: dict[str, Any]) -> Any:
        return fields.get("string") or "0"

    def encode(self, value: Any) -> dict[str, Any]:
        if value is None:
            return {"string": "0"}
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ProtobufError(f"a quantity must be a string or a number, not {value!r}")
        return {"string": value if isinstance(value, str) else str(value)}


class IntOrStringCodec:
    """``intstr.IntOrString``: {1: type (0 int, 1 string), 2: intVal, 3: strVal}."""

    def decode(self, fields: dict[str, Any]) -> Any:
        if fields.get("type", 0) == 1:
            return fields.get("strVal", "")
        return fields.get("intVal", 0)

    def encode(self, value: Any) -> dict[str, Any]:
        if value is None:
            value = 0
        if isinstance(value, str):
            return {"type": 1, "intVal": 0, "strVal": value}
        if isinstance(value, int) and not isinstance(value, bool):
            return {"type": 0, "intVal": value, "strVal": ""}
        raise ProtobufError(f"an int-or-string must be an integer or a string, not {value!r}")


class ItemsCodec:
    """Named string slices that protobuf wraps in a message: ``Verbs``, ``ExtraValue``."""

    def decode(self, fields: dict[str, Any]) -> Any:
        return fields.get("items", [])

    def encode(self, value: Any) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, list):
            raise ProtobufError(f"expected a list of strings, not {value!r}")
        return {"items": value}


class GroupVersionCodec:
    """``metav1.GroupVersion``: ``group/version``, or just ``version`` for the core group."""

    def decode(self, fields: dict[str, Any]) -> Any:
        group, version = fields.get("group", ""), fields.get("version", "")
        return f"{group}/{version}" if group else version

    def encode(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, str):
            raise ProtobufError(f"a group version must be a string, not {value!r}")
        group, _, version = value.rpartition("/")
        return {"group": group, "version": version}


class SchemaOrArrayCodec:
    """``JSONSchemaPropsOrArray``: a schema, or a list of schemas (``items``)."""

    def decode(self, fields: dict[str, Any]) -> Any:
        return fields.get("jSONSchemas") or fields.get("schema")

    def encode(self, value: Any) -> dict[str, Any]:
        if value is None:
            return {}
        if isinstance(value, list):
            return {"jSONSchemas": value}
        return {"schema": value}


class SchemaOrBoolCodec:
    """``JSONSchemaPropsOrBool``: a schema (which allows), or a bool (``additionalProperties``)."""

    def decode(self, fields: dict[str, Any]) -> Any:
        schema = fields.get("schema")
        return schema if schema is not None else bool(fields.get("allows", False))

    def encode(self, value: Any) -> dict[str, Any]:
        if isinstance(value, bool):
            return {"allows": value}
        if value is None:
            return {"allows": False}
        return {"allows": True, "schema": value}


class SchemaOrStringArrayCodec:
    """``JSONSchemaPropsOrStringArray``: a schema, or a list of property names (``dependencies``)."""

    def decode(self, fields: dict[str, Any]) -> Any:
        return fields.get("property") or fields.get("schema")

    def encode(self, value: Any) -> dict[str, Any]:
        if value is None:
            return {}
        if isinstance(value, list):
            return {"property": value}
        return {"schema": value}


_META = "k8s.io.apimachinery.pkg.apis.meta.v1."
_EXT = "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1."

CODECS: dict[str, Codec] = {
    _META + "Time": TimeCodec(micro=False),
    _META + "MicroTime": TimeCodec(micro=True),
    _META + "Duration": DurationCodec(),
    _META + "FieldsV1": RawJSONCodec("Raw"),
    _META + "Verbs": ItemsCodec(),
    _META + "GroupVersion": GroupVersionCodec(),
    "k8s.io.api.authentication.v1.ExtraValue": ItemsCodec(),
    "k8s.io.api.authentication.v1beta1.ExtraValue": ItemsCodec(),
    "k8s.io.api.authorization.v1.ExtraValue": ItemsCodec(),
    "k8s.io.api.certificates.v1.ExtraValue": ItemsCodec(),
    "k8s.io.apimachinery.pkg.api.resource.Quantity": QuantityCodec(),
    "k8s.io.apimachinery.pkg.api.resource.QuantityValue": QuantityCodec(),
    "k8s.io.apimachinery.pkg.util.intstr.IntOrString": IntOrStringCodec(),
    _EXT + "JSON": RawJSONCodec("raw"),
    _EXT + "JSONSchemaPropsOrArray": SchemaOrArrayCodec(),
    _EXT + "JSONSchemaPropsOrBool": SchemaOrBoolCodec(),
    _EXT + "JSONSchemaPropsOrStringArray": SchemaOrStringArrayCodec(),
    # runtime.RawExtension and runtime.Unknown need the engine; it registers them.
}
