"""A small proto3 codec that encodes and decodes dataclasses declared with field numbers.

Why not the project's protobuf engine (``kubeherd.api.protobuf``)? That engine turns messages
into the *JSON-shaped dicts* of Kubernetes objects: it applies Go's JSON rules (camelCase
names, base64 for bytes, ``omitempty``), writes proto2 (unpacked repeated scalars, zero
values of non-pointer fields) and reads its tables from one generated module. CRI is plain
proto3 between the kubelet and the runtime, and nothing there is ever JSON: zero values are
omitted, repeated scalars are packed, ``bytes`` stay bytes (ExecSync output), enums are ints.
Teaching the engine a second table *and* a second set of rules would be the invasive change;
the proto3 subset CRI needs is ~250 lines on its own, so it lives here.

How a message is declared (see ``messages.py``)::

    @dataclass(kw_only=True, slots=True)
    class PortMapping:
        protocol: Protocol = pb(1, Protocol.TCP)
        container_port: int = pb(2, 0, kind="int32")
        host_ip: str = pb(4, "")

The Python type says the proto type: ``str``, ``bytes``, ``bool``, ``int`` (``int64``
unless ``kind`` says ``int32``/``uint32``/``uint64``), an ``IntEnum`` (an enum, decoded to
the member when it is known, else to the int), another message class (``X | None``: unset is
``None``, a present message is encoded even when empty, which is how proto3 says "set"),
``list[...]`` (repeated; numeric scalars packed) and ``dict[str, str]`` (a map). The
``Int64Value``/``UInt64Value`` wrappers are spelled ``int | None`` with
``kind="Int64Value"``/``"UInt64Value"``: ``None`` is unset, ``0`` is present (``run_as_user``
0 means root, not "unset"). A class's table is compiled from its type hints on first use.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from typing import Any, TypeVar

from kubeherd.api.protobuf._wire import ProtobufError, read_varint, write_varint

VARINT, FIXED64, LEN, FIXED32 = 0, 1, 2, 5

T = TypeVar("T")


# Bytes that are not a valid encoding of the expected message (or a value that cannot be encoded):
# the same error, and the same varint primitives, as the API server's protobuf bodies.
ProtoError = ProtobufError


def pb(number: int, default: Any, *, kind: str = "") -> Any:
    """A dataclass field carrying protobuf field ``number``.

    ``default`` is the proto3 zero value: ``""``, ``0``, ``False`` or an enum's 0 member for
    scalars, ``None`` for messages and wrappers, ``[]`` for repeated fields and ``{}`` for maps
    (both become fresh-per-instance factories). ``kind`` refines ``int`` (``int32``,
    ``uint32``, ``uint64``) or names a wrapper (``Int64Value``, ``UInt64Value``).
    """
    meta = {"pb": (number, kind)}
    if isinstance(default, list | dict):
        if default:
            raise ValueError("a repeated or map field defaults to empty")
        factory = list if isinstance(default, list) else dict
        return dataclasses.field(default_factory=factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


# --- wire primitives -------------------------------------------------------------------------

_write_varint = write_varint
_read_varint = read_varint


def _skip(buf: bytes | memoryview, pos: int, end: int, wire: int) -> int:
    if wire == VARINT:
        return _read_varint(buf, pos, end)[1]
    if wire == FIXED64:
        pos += 8
    elif wire == FIXED32:
        pos += 4
    elif wire == LEN:
        n, pos = _read_varint(buf, pos, end)
        pos += n
    else:  # groups are not used by any proto3 message
        raise ProtoError(f"unsupported wire type {wire}")
    if pos > end:
        raise ProtoError("truncated field")
    return pos


# --- compiled tables ---------------------------------------------------------------------------

# Field kinds.
_STR, _BYTES, _BOOL, _SIGNED, _INT32, _UNSIGNED, _UINT32, _ENUM, _MSG, _WRAP_S, _WRAP_U, _MAP = range(12)
_VARINT_KINDS = frozenset((_BOOL, _SIGNED, _INT32, _UNSIGNED, _UINT32, _ENUM))


class _Field:
    __slots__ = ("name", "number", "kind", "repeated", "cls", "tag")

    def __init__(self, name: str, number: int, kind: int, repeated: bool, cls: Any) -> None:
        self.name = name
        self.number = number
        self.kind = kind
        self.repeated = repeated
        self.cls = cls  # the message class or the enum class
        packed = repeated and kind in _VARINT_KINDS
        self.tag = (number << 3) | (LEN if packed or kind not in _VARINT_KINDS else VARINT)


class _Table:
    __slots__ = ("ordered", "by_number")

    def __init__(self, fields: list[_Field]) -> None:
        self.ordered = sorted(fields, key=lambda f: f.number)
        self.by_number = {f.number: f for f in fields}


_tables: dict[type, _Table] = {}


def _strip_optional(tp: Any) -> Any:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def _scalar_kind(tp: Any, refine: str, where: str) -> tuple[int, Any]:
    if refine == "Int64Value":
        return _WRAP_S, None
    if refine == "UInt64Value":
        return _WRAP_U, None
    if tp is str:
        return _STR, None
    if tp is bytes:
        return _BYTES, None
    if tp is bool:
        return _BOOL, None
    if isinstance(tp, type) and issubclass(tp, enum.IntEnum):
        return _ENUM, tp
    if tp is int:
        return {"": _SIGNED, "int64": _SIGNED, "int32": _INT32, "uint64": _UNSIGNED,
                "uint32": _UINT32}[refine], None
    if dataclasses.is_dataclass(tp):
        return _MSG, tp
    raise TypeError(f"{where}: no protobuf form for {tp!r}")


def _table(cls: type) -> _Table:
    table = _tables.get(cls)
    if table is not None:
        return table
    hints = typing.get_type_hints(cls)
    fields: list[_Field] = []
    for f in dataclasses.fields(cls):
        if "pb" not in f.metadata:
            continue
        number, refine = f.metadata["pb"]
        tp = _strip_optional(hints[f.name])
        origin = typing.get_origin(tp)
        where = f"{cls.__name__}.{f.name}"
        if origin is list:
            kind, sub = _scalar_kind(typing.get_args(tp)[0], refine, where)
            fields.append(_Field(f.name, number, kind, True, sub))
        elif origin is dict:
            if typing.get_args(tp) != (str, str):
                raise TypeError(f"{where}: only map<string, string> is supported")
            fields.append(_Field(f.name, number, _MAP, False, None))
        else:
            kind, sub = _scalar_kind(tp, refine, where)
            fields.append(_Field(f.name, number, kind, False, sub))
    table = _tables[cls] = _Table(fields)
    return table


# --- encoding ----------------------------------------------------------------------------------

def _write_len(out: bytearray, data: bytes | bytearray) -> None:
    _write_varint(out, len(data))
    out += data


def _encode_into(out: bytearray, msg: Any) -> None:
    for f in _table(type(msg)).ordered:
        value = getattr(msg, f.name)
        kind = f.kind
        if f.repeated:
            if not value:
                continue
            if kind in _VARINT_KINDS:  # proto3 packs repeated numeric scalars
                body = bytearray()
                for item in value:
                    _write_varint(body, int(item))
                _write_varint(out, f.tag)
                _write_len(out, body)
                continue
            for item in value:
                _write_varint(out, f.tag)
                _encode_single(out, kind, item)
            continue
        if kind == _MAP:
            for key in sorted(value or ()):
                entry = bytearray()
                _encode_entry(entry, 1, key)
                _encode_entry(entry, 2, value[key])
                _write_varint(out, f.tag)
                _write_len(out, entry)
            continue
        if value is None:
            continue
        # a set message or wrapper is written even when empty (presence); a scalar only when not zero
        if kind in (_MSG, _WRAP_S, _WRAP_U) or value:
            _write_varint(out, f.tag)
            _encode_single(out, kind, value)


def _encode_entry(out: bytearray, number: int, text: str) -> None:
    if text:
        out.append((number << 3) | LEN)
        _write_len(out, text.encode())


def _encode_single(out: bytearray, kind: int, value: Any) -> None:
    """The value bytes (after the tag) of one non-repeated occurrence."""
    if kind == _STR:
        _write_len(out, value.encode())
    elif kind == _BYTES:
        _write_len(out, bytes(value))
    elif kind in _VARINT_KINDS:
        _write_varint(out, int(value))
    elif kind == _MSG:
        body = bytearray()
        _encode_into(body, value)
        _write_len(out, body)
    elif kind in (_WRAP_S, _WRAP_U):
        body = bytearray()
        if value:
            body.append(0x08)
            _write_varint(body, int(value))
        _write_len(out, body)
    else:  # pragma: no cover - maps are handled by the caller
        raise ProtoError(f"cannot encode kind {kind}")


def encode(msg: Any) -> bytes:
    """The proto3 bytes of a message dataclass instance."""
    out = bytearray()
    _encode_into(out, msg)
    return bytes(out)


# --- decoding ----------------------------------------------------------------------------------

def _int_value(kind: int, v: int) -> int:
    if kind == _SIGNED:
        return v - (1 << 64) if v & (1 << 63) else v
    if kind in (_INT32, _ENUM):
        v &= 0xFFFFFFFF
        return v - (1 << 32) if v & 0x80000000 else v
    if kind == _UINT32:
        return v & 0xFFFFFFFF
    return v


def _enum_value(cls: Any, v: int) -> Any:
    try:
        return cls(v)
    except ValueError:  # a value newer than our enum: keep the number
        return v


def _varint_scalar(f: _Field, v: int) -> Any:
    if f.kind == _BOOL:
        return v != 0
    value = _int_value(f.kind, v)
    return _enum_value(f.cls, value) if f.kind == _ENUM else value


def _decode_wrapper(kind: int, buf: bytes | memoryview, pos: int, end: int) -> int:
    value = 0
    while pos < end:
        key, pos = _read_varint(buf, pos, end)
        if key == 0x08:
            raw, pos = _read_varint(buf, pos, end)
            value = _int_value(_SIGNED if kind == _WRAP_S else _UNSIGNED, raw)
        else:
            pos = _skip(buf, pos, end, key & 7)
    return value


def _decode_map_entry(buf: bytes | memoryview, pos: int, end: int) -> tuple[str, str]:
    key = value = ""
    while pos < end:
        tag, pos = _read_varint(buf, pos, end)
        if tag in (0x0A, 0x12):
            n, pos = _read_varint(buf, pos, end)
            if pos + n > end:
                raise ProtoError("truncated map entry")
            text = bytes(buf[pos:pos + n]).decode("utf-8", "replace")
            pos += n
            if tag == 0x0A:
                key = text
            else:
                value = text
        else:
            pos = _skip(buf, pos, end, tag & 7)
    return key, value


def _decode_message(cls: type[T], buf: bytes | memoryview, pos: int, end: int) -> T:
    table = _table(cls)
    values: dict[str, Any] = {}
    while pos < end:
        tag, pos = _read_varint(buf, pos, end)
        number, wire = tag >> 3, tag & 7
        f = table.by_number.get(number)
        if f is None:
            if number == 0:
                raise ProtoError(f"field number 0 in {cls.__name__}")
            pos = _skip(buf, pos, end, wire)
            continue
        kind = f.kind
        if wire == VARINT and kind in _VARINT_KINDS:
            raw, pos = _read_varint(buf, pos, end)
            value = _varint_scalar(f, raw)
            if f.repeated:
                values.setdefault(f.name, []).append(value)
            else:
                values[f.name] = value
            continue
        if wire != LEN:
            raise ProtoError(f"{cls.__name__}.{f.name}: unexpected wire type {wire}")
        n, pos = _read_varint(buf, pos, end)
        stop = pos + n
        if stop > end:
            raise ProtoError(f"{cls.__name__}.{f.name}: truncated")
        if kind in _VARINT_KINDS:  # packed run
            items = values.setdefault(f.name, [])
            while pos < stop:
                raw, pos = _read_varint(buf, pos, stop)
                items.append(_varint_scalar(f, raw))
            continue
        if kind == _STR:
            value = bytes(buf[pos:stop]).decode("utf-8", "replace")
        elif kind == _BYTES:
            value = bytes(buf[pos:stop])
        elif kind == _MSG:
            value = _decode_message(f.cls, buf, pos, stop)
        elif kind in (_WRAP_S, _WRAP_U):
            value = _decode_wrapper(kind, buf, pos, stop)
        else:  # _MAP
            k, v = _decode_map_entry(buf, pos, stop)
            values.setdefault(f.name, {})[k] = v
            pos = stop
            continue
        pos = stop
        if f.repeated:
            values.setdefault(f.name, []).append(value)
        else:
            values[f.name] = value
    if pos != end:
        raise ProtoError(f"{cls.__name__}: last field overruns the message")
    return cls(**values)


def decode(cls: type[T], data: bytes) -> T:
    """An instance of message class ``cls`` from its proto3 bytes (unknown fields are skipped)."""
    buf = memoryview(data)
    try:
        return _decode_message(cls, buf, 0, len(buf))
    except IndexError as e:  # defensive: bounds are checked above
        raise ProtoError(f"malformed {cls.__name__}: {e}") from None
