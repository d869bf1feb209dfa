"""The table-driven engine: protobuf message bytes <-> the JSON-shaped dict of the object.

One generic decoder and one generic encoder walk ``tables.MESSAGES``; nothing here knows a
particular kind. A message's table is compiled on first use into ``_Message`` (fields keyed by
number for decoding, sorted by number for encoding), so importing the package is cheap and a
request pays only for the messages it touches.

What the dict looks like is decided by Go, not by protobuf: upstream decodes a body into Go
structs and everything after that sees the JSON encoding of those structs. So the decoder
applies Go's ``encoding/json`` rules as the tables record them: JSON names from the struct
tags, zero values of ``omitempty`` non-pointer scalars dropped (gogo-protobuf writes them
anyway), pointer fields kept even when zero (``replicas: 0``), inlined structs merged into
their parent, and types with their own ``MarshalJSON`` converted by the codecs in
``_wellknown``. The encoder is the inverse and writes what a Go client writes: fields in
number order, non-pointer fields even when zero, map entries sorted by key, repeated scalars
unpacked (proto2). The decoder also accepts packed repeated scalars.
"""

from __future__ import annotations

import base64
import binascii
import struct
from typing import Any

import orjson

from . import tables
from ._wellknown import CODECS, Codec, RawJSONCodec
from ._wire import (
    FIXED32,
    FIXED64,
    LEN,
    VARINT,
    WIRE_NAMES,
    ProtobufError,
    read_varint,
    skip_field,
    write_varint,
)

MAGIC = b"k8s\x00"
PROTOBUF = "application/vnd.kubernetes.protobuf"
UNKNOWN = "k8s.io.apimachinery.pkg.runtime.Unknown"
RAW_EXTENSION = "k8s.io.apimachinery.pkg.runtime.RawExtension"
_META = "k8s.io.apimachinery.pkg.apis.meta.v1"

# Table flags (hack/gen_proto_tables.py).
_REPEATED, _OMIT_ZERO, _INLINE, _ALWAYS, _NULL = 1, 2, 4, 8, 16

# Field kinds. The varint kinds come first so `kind <= _BOOL` tests for them.
(_INT32, _INT64, _UINT32, _UINT64, _SINT32, _SINT64, _BOOL,
 _DOUBLE, _FIXED64, _SFIXED64, _FLOAT, _FIXED32, _SFIXED32,
 _STRING, _BYTES, _RAW_BYTES, _MESSAGE, _MAP) = range(18)

_SCALAR_KINDS = {
    "int32": _INT32, "int64": _INT64, "uint32": _UINT32, "uint64": _UINT64, "sint32": _SINT32,
    "sint64": _SINT64, "bool": _BOOL, "double": _DOUBLE, "fixed64": _FIXED64, "sfixed64": _SFIXED64,
    "float": _FLOAT, "fixed32": _FIXED32, "sfixed32": _SFIXED32, "string": _STRING, "bytes": _BYTES,
}
_WIRE_OF = {k: VARINT for k in range(_BOOL + 1)} | {
    _DOUBLE: FIXED64, _FIXED64: FIXED64, _SFIXED64: FIXED64, _FLOAT: FIXED32, _FIXED32: FIXED32,
    _SFIXED32: FIXED32, _STRING: LEN, _BYTES: LEN, _RAW_BYTES: LEN, _MESSAGE: LEN, _MAP: LEN,
}
_FIXED_FORMAT = {_DOUBLE: "<d", _FIXED64: "<Q", _SFIXED64: "<q", _FLOAT: "<f", _FIXED32: "<I", _SFIXED32: "<i"}
_ZERO: dict[int, Any] = {k: 0 for k in range(_STRING)} | {_BOOL: False, _DOUBLE: 0.0, _FLOAT: 0.0,
                                                          _STRING: "", _BYTES: "", _RAW_BYTES: b""}


class _Field:
    __slots__ = ("number", "name", "kind", "repeated", "omit_zero", "always", "null", "inline", "type",
                 "key_kind", "value_kind", "tag")

    def __init__(self, number: int, name: str, typ: Any, flags: int, raw_bytes: bool) -> None:
        self.number = number
        self.name = name
        self.repeated = bool(flags & _REPEATED)
        self.omit_zero = bool(flags & _OMIT_ZERO)
        self.inline = bool(flags & _INLINE)
        self.always = bool(flags & _ALWAYS)
        self.null = bool(flags & _NULL)
        self.type: str = ""
        self.key_kind = self.value_kind = _STRING
        if isinstance(typ, tuple):  # ("map", key, value)
            self.kind = _MAP
            self.key_kind = _kind_of(typ[1], raw_bytes)
            self.value_kind = _kind_of(typ[2], raw_bytes)
            if self.value_kind == _MESSAGE:
                self.type = typ[2]
        else:
            self.kind = _kind_of(typ, raw_bytes)
            if self.kind == _MESSAGE:
                self.type = typ
        self.tag = (number << 3) | _WIRE_OF[self.kind]


def _kind_of(typ: str, raw_bytes: bool) -> int:
    if typ == "bytes" and raw_bytes:
        return _RAW_BYTES
    return _SCALAR_KINDS.get(typ, _MESSAGE)


class _Message:
    __slots__ = ("name", "fields", "ordered", "codec", "nulls")

    def __init__(self, name: str, codec: Codec | None) -> None:
        self.name = name
        self.codec = codec
        # Codecs work on raw bytes; everywhere else bytes are base64 strings, as in JSON.
        raw_bytes = codec is not None
        rows = tables.MESSAGES[name]
        fields = [_Field(n, json_name, typ, flags, raw_bytes) for n, json_name, typ, flags in rows]
        self.fields = {f.number: f for f in fields}
        self.ordered = sorted(fields, key=lambda f: f.number)
        # Unset pointers, slices and maps without omitempty: Go's JSON writes `null` for them.
        self.nulls = tuple(f.name for f in fields if f.null)


_compiled: dict[str, _Message] = {}


def message(name: str) -> _Message:
    """The compiled table of a message (``k8s.io.api.core.v1.Pod``)."""
    m = _compiled.get(name)
    if m is None:
        if name not in tables.MESSAGES:
            raise ProtobufError(f"no protobuf message {name}")
        m = _compiled[name] = _Message(name, _codec(name))
    return m


def _codec(name: str) -> Codec | None:
    if name in CODECS:
        return CODECS[name]
    if name == RAW_EXTENSION:
        return RawJSONCodec("raw", embedded=_decode_embedded)
    if name == UNKNOWN:
        return _UnknownCodec()
    if name in tables.CUSTOM_JSON:
        raise ProtobufError(f"{name} has a custom JSON form and no codec")
    return None


# --- decoding --------------------------------------------------------------------------------

def _mismatch(m: _Message, f: _Field, wire_type: int) -> ProtobufError:
    expected = WIRE_NAMES[_WIRE_OF[f.kind]]
    if f.repeated and f.kind < _STRING:
        expected += " or packed"
    return ProtobufError(f"field {f.number} of {m.name.rsplit('.', 1)[1]} has wire type "
                         f"{WIRE_NAMES.get(wire_type, wire_type)}, expected {expected}")


def _varint_value(kind: int, v: int) -> Any:
    if kind == _INT32:
        v &= 0xFFFFFFFF
        return v - 0x100000000 if v & 0x80000000 else v
    if kind == _INT64:
        return v - 0x10000000000000000 if v & 0x8000000000000000 else v
    if kind == _BOOL:
        return v != 0
    if kind == _UINT32:
        return v & 0xFFFFFFFF
    if kind == _UINT64:
        return v
    if kind == _SINT32:
        v &= 0xFFFFFFFF
        return (v >> 1) ^ -(v & 1)
    return (v >> 1) ^ -(v & 1)  # _SINT64


def _fixed_value(kind: int, buf: bytes, pos: int) -> Any:
    value = struct.unpack_from(_FIXED_FORMAT[kind], buf, pos)[0]
    if kind in (_DOUBLE, _FLOAT) and value.is_integer() and abs(value) < 1e21:
        return int(value)  # Go's encoding/json writes 5.0 as 5, which the JSON path reads as an int
    return value


def _scalar(m: _Message, f: _Field, kind: int, wt: int, buf: bytes, pos: int, end: int) -> tuple[Any, int]:
    """A scalar value of ``kind`` at ``pos`` (its tag already read) and the next position."""
    if wt == LEN and kind >= _STRING:
        n, pos = read_varint(buf, pos, end)
        stop = pos + n
        if stop > end:
            raise ProtobufError(f"truncated field {f.number}")
        if kind == _STRING:
            return buf[pos:stop].decode("utf-8", "replace"), stop
        if kind == _BYTES:
            return base64.b64encode(buf[pos:stop]).decode("ascii"), stop
        if kind == _RAW_BYTES:
            return buf[pos:stop], stop
    elif wt == VARINT and kind <= _BOOL:
        v, pos = read_varint(buf, pos, end)
        return _varint_value(kind, v), pos
    elif wt == FIXED64 and kind in (_DOUBLE, _FIXED64, _SFIXED64):
        if pos + 8 > end:
            raise ProtobufError(f"truncated field {f.number}")
        return _fixed_value(kind, buf, pos), pos + 8
    elif wt == FIXED32 and kind in (_FLOAT, _FIXED32, _SFIXED32):
        if pos + 4 > end:
            raise ProtobufError(f"truncated field {f.number}")
        return _fixed_value(kind, buf, pos), pos + 4
    raise _mismatch(m, f, wt)


def _packed(m: _Message, f: _Field, buf: bytes, pos: int, stop: int, out: list[Any]) -> None:
    wt = _WIRE_OF[f.kind]
    while pos < stop:
        value, pos = _scalar(m, f, f.kind, wt, buf, pos, stop)
        out.append(value)
    if pos != stop:
        raise ProtobufError(f"packed field {f.number} overruns its length")


def _submessage(name: str, buf: bytes, pos: int, stop: int, into: dict[str, Any] | None = None) -> Any:
    sub = message(name)
    target: dict[str, Any] = {} if into is None or sub.codec is not None else into
    decode_fields(sub, buf, pos, stop, target)
    return sub.codec.decode(target) if sub.codec is not None else target


def _map_entry(m: _Message, f: _Field, buf: bytes, pos: int, stop: int) -> tuple[Any, Any]:
    key: Any = _ZERO[f.key_kind]
    value: Any = _ZERO.get(f.value_kind)
    have_value = False
    while pos < stop:
        tag, pos = read_varint(buf, pos, stop)
        number, wt = tag >> 3, tag & 7
        if number == 1:
            key, pos = _scalar(m, f, f.key_kind, wt, buf, pos, stop)
        elif number == 2:
            if f.value_kind == _MESSAGE:
                if wt != LEN:
                    raise _mismatch(m, f, wt)
                n, pos = read_varint(buf, pos, stop)
                if pos + n > stop:
                    raise ProtobufError(f"truncated map value in field {f.number}")
                value = _submessage(f.type, buf, pos, pos + n)
                pos += n
            else:
                value, pos = _scalar(m, f, f.value_kind, wt, buf, pos, stop)
            have_value = True
        else:
            pos = skip_field(buf, pos, stop, wt, number)
    if not have_value and f.value_kind == _MESSAGE:
        value = _submessage(f.type, b"", 0, 0)
    if pos != stop:
        raise ProtobufError(f"map entry of field {f.number} overruns its length")
    return (key if isinstance(key, str) else str(key)), value


def decode_fields(m: _Message, buf: bytes, pos: int, end: int, out: dict[str, Any]) -> None:
    """Decode the fields of message ``m`` in ``buf[pos:end]`` into ``out``."""
    fields = m.fields
    while pos < end:
        tag = buf[pos]
        if tag < 0x80:
            pos += 1
        else:
            tag, pos = read_varint(buf, pos, end)
        number = tag >> 3
        wt = tag & 7
        f = fields.get(number)
        if f is None:
            if number == 0:
                raise ProtobufError(f"field number 0 in {m.name.rsplit('.', 1)[1]}")
            pos = skip_field(buf, pos, end, wt, number)
            continue
        kind = f.kind
        try:
            if wt == LEN and kind >= _STRING:
                n = buf[pos] if pos < end else 0x80
                if n < 0x80:
                    pos += 1
                else:
                    n, pos = read_varint(buf, pos, end)
                stop = pos + n
                if stop > end:
                    raise ProtobufError(f"truncated field {number}")
                if kind == _STRING:
                    value: Any = buf[pos:stop].decode("utf-8", "replace")
                elif kind == _MESSAGE:
                    if f.inline:
                        decode_fields(message(f.type), buf, pos, stop, out)
                        pos = stop
                        continue
                    existing = None if f.repeated else out.get(f.name)
                    value = _submessage(f.type, buf, pos, stop, existing if isinstance(existing, dict) else None)
                elif kind == _MAP:
                    k, value = _map_entry(m, f, buf, pos, stop)
                    entries = out.get(f.name)
                    if entries is None:
                        out[f.name] = {k: value}
                    else:
                        entries[k] = value
                    pos = stop
                    continue
                elif kind == _BYTES:
                    value = base64.b64encode(buf[pos:stop]).decode("ascii")
                else:
                    value = buf[pos:stop]
                pos = stop
            elif wt == LEN and f.repeated:
                # a packed run of varint or fixed-width scalars
                n, pos = read_varint(buf, pos, end)
                if pos + n > end:
                    raise ProtobufError(f"truncated field {number}")
                values = out.get(f.name)
                if values is None:
                    values = out[f.name] = []
                _packed(m, f, buf, pos, pos + n, values)
                pos += n
                continue
            else:
                value, pos = _scalar(m, f, kind, wt, buf, pos, end)
        except ProtobufError as e:
            if f.repeated:
                raise e.at(f"{f.name}[{len(out.get(f.name) or ())}]") from None
            raise e.at(f.name) from None
        if f.repeated:
            items = out.get(f.name)
            if items is None:
                out[f.name] = [value]
            else:
                items.append(value)
        elif f.omit_zero and not value:
            out.pop(f.name, None)
        else:
            out[f.name] = value
    if pos != end:
        raise ProtobufError(f"last field of {m.name.rsplit('.', 1)[1]} overruns its length")
    for name in m.nulls:
        if name not in out:
            out[name] = None


def decode_value(name: str, data: bytes) -> Any:
    """The JSON value of message ``name`` encoded in ``data`` (a dict, or a codec's value)."""
    if not isinstance(data, bytes):
        data = bytes(data)
    try:
        return _submessage(name, data, 0, len(data))
    except (IndexError, struct.error) as e:  # defensive: the engine checks bounds itself
        raise ProtobufError(f"malformed {name.rsplit('.', 1)[1]}: {e}") from None
    except RecursionError:
        raise ProtobufError(f"{name.rsplit('.', 1)[1]} is nested too deeply") from None


def decode_envelope(data: bytes, expected_api_version: str | None = None,
                    expected_kind: str | None = None) -> dict[str, Any]:
    """The object in a ``runtime.Unknown`` message (``data`` without the ``k8s\\0`` prefix)."""
    fields: dict[str, Any] = {}
    try:
        decode_fields(message(UNKNOWN), bytes(data), 0, len(data), fields)
    except (IndexError, struct.error) as e:  # defensive: the engine checks bounds itself
        raise ProtobufError(f"malformed protobuf envelope: {e}") from None
    return decode_unknown(fields, expected_api_version, expected_kind)


# --- the runtime.Unknown envelope ------------------------------------------------------------

def message_for(api_version: str, kind: str) -> str | None:
    """The protobuf message of a kind; meta.k8s.io kinds (DeleteOptions, Status...) in any version."""
    name = tables.KINDS.get((api_version, kind))
    if name is None:
        name = tables.KINDS.get(("meta.k8s.io/v1", kind))
    return name


class UnsupportedKindError(ProtobufError):
    """A well-formed envelope around a kind that has no protobuf form (e.g. a custom resource)."""


def decode_unknown(fields: dict[str, Any], expected_api_version: str | None = None,
                   expected_kind: str | None = None) -> dict[str, Any]:
    """The object carried by a decoded ``runtime.Unknown`` (fields by proto name)."""
    type_meta = fields.get("typeMeta") or {}
    api_version = type_meta.get("apiVersion") or expected_api_version or ""
    kind = type_meta.get("kind") or expected_kind or ""
    if not api_version or not kind:
        raise ProtobufError("the protobuf envelope names no apiVersion and kind")
    encoding = fields.get("contentEncoding", "")
    if encoding:
        raise ProtobufError(f"unsupported contentEncoding {encoding!r} in the protobuf envelope")
    content_type = fields.get("contentType", "")
    raw = fields.get("raw") or b""
    obj: dict[str, Any] = {"kind": kind, "apiVersion": api_version}
    if content_type.split(";")[0].strip() == "application/json":
        try:
            decoded = orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError as e:
            raise ProtobufError(f"the JSON inside the protobuf envelope is invalid: {e}") from None
        if not isinstance(decoded, dict):
            raise ProtobufError("the JSON inside the protobuf envelope is not an object")
        return obj | decoded
    if content_type not in ("", PROTOBUF):
        raise ProtobufError(f"unsupported contentType {content_type!r} in the protobuf envelope")
    name = message_for(api_version, kind)
    if name is None:
        raise UnsupportedKindError(f"no protobuf serialization for {kind} in {api_version}")
    body = decode_value(name, raw)
    obj.update(body)
    return obj


def _decode_embedded(raw: bytes) -> Any:
    """A RawExtension holding a protobuf object (``k8s\\0`` + Unknown), as its JSON form."""
    return decode_envelope(raw[len(MAGIC):])


class _UnknownCodec:
    """``runtime.Unknown`` nested as a field: the object it carries."""

    def decode(self, fields: dict[str, Any]) -> Any:
        return decode_unknown(fields) if fields else None

    def encode(self, value: Any) -> dict[str, Any]:
        return unknown_fields(value)


def unknown_fields(obj: Any) -> dict[str, Any]:
    """The ``runtime.Unknown`` fields (by proto name) wrapping ``obj`` as a Go client writes them."""
    if not isinstance(obj, dict):
        raise ProtobufError(f"expected an object, not {type(obj).__name__}")
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str) or not api_version or not kind:
        raise ProtobufError("the object needs apiVersion and kind to be encoded")
    name = message_for(api_version, kind)
    if name is None:
        raise UnsupportedKindError(f"no protobuf serialization for {kind} in {api_version}")
    return {
        "typeMeta": {"apiVersion": api_version, "kind": kind},
        "raw": encode_value(name, obj),
        "contentEncoding": "",
        "contentType": "",
    }


# --- encoding --------------------------------------------------------------------------------

def _check_int(value: Any, lo: int, hi: int) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ProtobufError(f"expected an integer, not {value!r}")
    if not lo <= value <= hi:
        raise ProtobufError(f"{value} is out of range")
    return value


_INT_RANGES = {
    _INT32: (-(1 << 31), (1 << 31) - 1), _INT64: (-(1 << 63), (1 << 63) - 1),
    _UINT32: (0, (1 << 32) - 1), _UINT64: (0, (1 << 64) - 1),
    _SINT32: (-(1 << 31), (1 << 31) - 1), _SINT64: (-(1 << 63), (1 << 63) - 1),
    _FIXED32: (0, (1 << 32) - 1), _FIXED64: (0, (1 << 64) - 1),
    _SFIXED32: (-(1 << 31), (1 << 31) - 1), _SFIXED64: (-(1 << 63), (1 << 63) - 1),
}


def _write_scalar(out: bytearray, kind: int, value: Any) -> None:
    """The value bytes (no tag) of a scalar."""
    if kind == _STRING:
        if not isinstance(value, str):
            raise ProtobufError(f"expected a string, not {value!r}")
        try:
            data = value.encode()
        except UnicodeEncodeError:
            raise ProtobufError(f"invalid string {value[:40]!r}") from None
        write_varint(out, len(data))
        out += data
    elif kind <= _BOOL:
        if kind == _BOOL:
            if not isinstance(value, bool):
                raise ProtobufError(f"expected a boolean, not {value!r}")
            out.append(1 if value else 0)
            return
        lo, hi = _INT_RANGES[kind]
        v = _check_int(value, lo, hi)
        if kind in (_SINT32, _SINT64):
            v = (v << 1) ^ (v >> 63)
        write_varint(out, v)
    elif kind in (_DOUBLE, _FLOAT):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ProtobufError(f"expected a number, not {value!r}")
        out += struct.pack(_FIXED_FORMAT[kind], float(value))
    elif kind in _FIXED_FORMAT:
        lo, hi = _INT_RANGES[kind]
        out += struct.pack(_FIXED_FORMAT[kind], _check_int(value, lo, hi))
    elif kind == _BYTES:
        if not isinstance(value, str):
            raise ProtobufError(f"expected a base64 string, not {value!r}")
        try:
            data = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ProtobufError(f"invalid base64 data {value[:40]!r}") from None
        write_varint(out, len(data))
        out += data
    elif kind == _RAW_BYTES:
        if not isinstance(value, bytes | bytearray):
            raise ProtobufError(f"expected bytes, not {type(value).__name__}")
        write_varint(out, len(value))
        out += value
    else:
        raise ProtobufError(f"cannot write kind {kind} as a scalar")


def _write_message(out: bytearray, name: str, value: Any) -> None:
    """The length-prefixed body of message ``name`` holding ``value``."""
    body = bytearray()
    sub = message(name)
    if sub.codec is not None:
        value = sub.codec.encode(value)
    encode_fields(sub, value, body)
    write_varint(out, len(body))
    out += body


def encode_fields(m: _Message, obj: Any, out: bytearray) -> None:
    """Append the fields of ``obj`` as message ``m`` to ``out``."""
    if not isinstance(obj, dict):
        raise ProtobufError(f"expected an object for {m.name.rsplit('.', 1)[1]}, not {type(obj).__name__}")
    custom = m.codec is not None
    for f in m.ordered:
        try:
            if f.inline:
                write_varint(out, f.tag)
                _write_message(out, f.type, obj)
                continue
            value = obj.get(f.name)
            if value is None:
                if custom or not f.always:
                    continue
                if f.kind != _MESSAGE:
                    value = _ZERO[f.kind]
                elif message(f.type).codec is None:
                    value = {}
            if f.kind == _MAP:
                if not isinstance(value, dict):
                    raise ProtobufError(f"expected an object, not {type(value).__name__}")
                for key in sorted(value):
                    entry = bytearray()
                    entry.append(0x0A)
                    _write_scalar(entry, f.key_kind, key)
                    item = value[key]
                    if f.value_kind == _MESSAGE:
                        entry.append(0x12)
                        _write_message(entry, f.type, item)
                    elif item is not None:
                        entry.append((2 << 3) | _WIRE_OF[f.value_kind])
                        _write_scalar(entry, f.value_kind, item)
                    write_varint(out, f.tag)
                    write_varint(out, len(entry))
                    out += entry
            elif f.repeated:
                if not isinstance(value, list | tuple):
                    raise ProtobufError(f"expected a list, not {type(value).__name__}")
                for item in value:
                    write_varint(out, f.tag)
                    if f.kind == _MESSAGE:
                        _write_message(out, f.type, item)
                    else:
                        _write_scalar(out, f.kind, item)
            else:
                write_varint(out, f.tag)
                if f.kind == _MESSAGE:
                    _write_message(out, f.type, value)
                else:
                    _write_scalar(out, f.kind, value)
        except ProtobufError as e:
            raise e.at(f.name) from None


def encode_value(name: str, value: Any) -> bytes:
    """Message ``name`` holding the JSON value ``value``, as a Go client would encode it."""
    sub = message(name)
    out = bytearray()
    encode_fields(sub, sub.codec.encode(value) if sub.codec is not None else value, out)
    return bytes(out)
