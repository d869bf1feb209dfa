"""Protobuf wire-format primitives: varints, tags, skipping unknown fields.

Kept apart from the message engine so the hand-written codecs of the well-known types can
share the error type and the primitives without importing the engine.
"""

from __future__ import annotations

VARINT, FIXED64, LEN, START_GROUP, END_GROUP, FIXED32 = 0, 1, 2, 3, 4, 5
WIRE_NAMES = {VARINT: "varint", FIXED64: "64-bit", LEN: "length-delimited", START_GROUP: "start-group",
              END_GROUP: "end-group", FIXED32: "32-bit"}

_MASK64 = (1 << 64) - 1


class ProtobufError(ValueError):
    """A protobuf body that cannot be decoded (or an object that cannot be encoded).

    The API server answers it with 400 Bad Request; the message says what is wrong and where:
    ``spec.template.spec.containers[0].ports[0].containerPort: field 3 of ContainerPort has wire
    type length-delimited, expected varint``.
    """

    def __init__(self, reason: str, path: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.path = path

    def at(self, name: str) -> ProtobufError:
        """The same error one level up: ``name`` is the field (``ports[0]``) it happened in."""
        path = name if not self.path else name + ("" if self.path.startswith("[") else ".") + self.path
        return type(self)(self.reason, path)

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}" if self.path else self.reason


def read_varint(buf: bytes | memoryview, pos: int, end: int) -> tuple[int, int]:
    """The unsigned varint at ``pos`` (at most 10 bytes, wrapped to 64 bits) and the next position."""
    result = 0
    shift = 0
    while True:
        if pos >= end:
            raise ProtobufError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result & _MASK64, pos
        shift += 7
        if shift >= 70:
            raise ProtobufError("varint longer than 10 bytes")


def write_varint(out: bytearray, value: int) -> None:
    """Append ``value`` as a varint; negative numbers as their 64-bit two's complement (10 bytes)."""
    if value < 0:
        value &= _MASK64
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def skip_field(buf: bytes, pos: int, end: int, wire_type: int, number: int) -> int:
    """The position after the value of an unknown field (groups are skipped whole)."""
    if wire_type == VARINT:
        return read_varint(buf, pos, end)[1]
    if wire_type == LEN:
        n, pos = read_varint(buf, pos, end)
        pos += n
    elif wire_type == FIXED64:
        pos += 8
    elif wire_type == FIXED32:
        pos += 4
    elif wire_type == START_GROUP:
        while True:
            key, pos = read_varint(buf, pos, end)
            if key & 7 == END_GROUP:
                if key >> 3 != number:
                    raise ProtobufError(f"end-group for field {key >> 3} inside group {number}")
                break
            pos = skip_field(buf, pos, end, key & 7, key >> 3)
    else:
        raise ProtobufError(f"invalid wire type {wire_type} for field {number}")
    if pos > end:
        raise ProtobufError(f"truncated field {number}")
    return pos
