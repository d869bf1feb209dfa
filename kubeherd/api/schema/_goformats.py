"""The string formats upstream's decoder checks while decoding, with Go's error texts.

Decoding a request body into the typed Go object fails on three kinds of string content, and
kube-apiserver answers 400 with the decoder's error text: `[]byte` fields (`format: byte`) must be
standard base64 (Go's `encoding/base64` error names the offending byte offset), and `metav1.Time` /
`metav1.MicroTime` must parse with Go's `time.Parse` and the RFC 3339 layouts
`2006-01-02T15:04:05Z07:00` / `2006-01-02T15:04:05.000000Z07:00` (Go's messages name the layout
element that failed, or the value that is out of range). Both are re-implemented here from the
documented behaviour of those Go functions, byte for byte where the message depends on it, as is
Go's `strconv.Quote` for the field paths of strict decoding errors.
(Quantities are checked with `kubeherd.api.quantity`, which already carries upstream's texts.)
"""

from __future__ import annotations

from kubeherd.api.gostrings import go_quote

__all__ = ["base64_error", "go_quote", "time_error"]


_B64_ALPHABET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
_NEWLINES = (0x0A, 0x0D)
_PAD = 0x3D  # "="


def base64_error(text: str) -> str | None:
    """Go's `base64.StdEncoding` error for `text`, or None when it decodes."""
    src = text.encode()
    si = 0
    while si < len(src):
        si, bad = _quantum(src, si)
        if bad is not None:
            return f"illegal base64 data at input byte {bad}"
    return None


def _quantum(src: bytes, si: int) -> tuple[int, int | None]:
    """One 4-character group from offset `si`: (next offset, offset of the error or None)."""
    size = len(src)
    digits = 0
    while digits < 4:
        if si == size:
            # End of input inside a group: padding was required.
            return si, (None if digits == 0 else si - digits)
        ch = src[si]
        si += 1
        if ch in _B64_ALPHABET:
            digits += 1
            continue
        if ch in _NEWLINES:
            continue
        if ch != _PAD or digits < 2:
            return si, si - 1
        if digits == 2:  # "==" expected; the first "=" is consumed
            while si < size and src[si] in _NEWLINES:
                si += 1
            if si == size:
                return si, size
            if src[si] != _PAD:
                return si, si - 1
            si += 1
        while si < size and src[si] in _NEWLINES:
            si += 1
        return si, (si if si < size else None)  # anything after the padding is an error
    return si, None


# --- time.Parse with the RFC 3339 layouts ---------------------------------------------------

RFC3339 = "2006-01-02T15:04:05Z07:00"
RFC3339_MICRO = "2006-01-02T15:04:05.000000Z07:00"
# The layouts as Go's parser walks them: (literal prefix, layout element).
_ELEMENTS = {
    RFC3339: (("", "2006"), ("-", "01"), ("-", "02"), ("T", "15"), (":", "04"), (":", "05"),
              ("", "Z07:00")),
    RFC3339_MICRO: (("", "2006"), ("-", "01"), ("-", "02"), ("T", "15"), (":", "04"), (":", "05"),
                    ("", ".000000"), ("", "Z07:00")),
}
_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


class _Bad(Exception):
    pass


def _quote(value: bytes) -> str:
    """The time package's own quoting: non-ASCII and control bytes as `\\xNN`."""
    out = ['"']
    for b in value:
        if b >= 0x80 or b < 0x20:
            out.append(f"\\x{b:02x}")
        else:
            if b in (0x22, 0x5C):
                out.append("\\")
            out.append(chr(b))
    out.append('"')
    return "".join(out)


def _digit(value: bytes, i: int) -> bool:
    return len(value) > i and 0x30 <= value[i] <= 0x39


def _getnum(value: bytes, fixed: bool) -> tuple[int, bytes]:
    if not _digit(value, 0):
        raise _Bad
    if not _digit(value, 1):
        if fixed:
            raise _Bad
        return value[0] - 0x30, value[1:]
    return (value[0] - 0x30) * 10 + value[1] - 0x30, value[2:]


def _atoi(value: bytes) -> int:
    text = value.decode("latin-1")
    sign = -1 if text[:1] == "-" else 1
    digits = text[1:] if text[:1] in ("-", "+") else text
    if not digits or not digits.isascii() or not digits.isdigit():
        raise _Bad
    return sign * int(digits)


def time_error(text: str, layout: str = RFC3339) -> str | None:
    """Go's `time.Parse(layout, text)` error, or None when `text` parses."""
    whole = text.encode()
    value = whole
    year = month = day = 0

    def parse_error(element: str, rest: bytes, message: str = "") -> str:
        if message:
            return f"parsing time {_quote(whole)}{message}"
        return (f"parsing time {_quote(whole)} as {_quote(layout.encode())}: cannot parse {_quote(rest)} "
                f"as {_quote(element.encode())}")

    for prefix, element in _ELEMENTS[layout]:
        if prefix:
            if not value.startswith(prefix.encode()):
                return parse_error(prefix, value)
            value = value[len(prefix):]
        hold = value
        out_of_range = ""
        try:
            if element == "2006":
                if len(value) < 4 or not _digit(value, 0):
                    raise _Bad
                year, value = _atoi(value[:4]), value[4:]
            elif element == "01":
                month, value = _getnum(value, True)
                if not 1 <= month <= 12:
                    out_of_range = "month"
            elif element == "02":
                day, value = _getnum(value, True)
            elif element == "15":
                hour, value = _getnum(value, False)
                if hour >= 24:
                    out_of_range = "hour"
            elif element == "04":
                minute, value = _getnum(value, True)
                if minute >= 60:
                    out_of_range = "minute"
            elif element == "05":
                second, value = _getnum(value, True)
                if second >= 60:
                    out_of_range = "second"
                elif layout == RFC3339 and len(value) >= 2 and value[:1] in (b".", b",") and _digit(value, 1):
                    end = 2
                    while _digit(value, end):
                        end += 1
                    value = value[end:]  # fractional seconds the layout does not name
            elif element == ".000000":
                if len(value) < 7:
                    raise _Bad
                if value[:1] not in (b".", b","):
                    raise _Bad
                if _atoi(value[1:7]) < 0:
                    out_of_range = "fractional second"
                value = value[7:]
            else:  # Z07:00
                if value[:1] == b"Z":
                    value = value[1:]
                else:
                    if len(value) < 6 or value[3:4] != b":":
                        raise _Bad
                    sign, hours, minutes, value = value[:1], value[1:3], value[4:6], value[6:]
                    offset_hour, _ = _getnum(hours, True)
                    offset_minute, _ = _getnum(minutes, True)
                    if offset_hour > 24:
                        out_of_range = "time zone offset hour"
                    if offset_minute > 60:
                        out_of_range = "time zone offset minute"
                    if sign not in (b"+", b"-"):
                        raise _Bad
        except _Bad:
            if out_of_range:
                return parse_error(element, value, f": {out_of_range} out of range")
            return parse_error(element, hold)
        if out_of_range:
            return parse_error(element, value, f": {out_of_range} out of range")
    if value:
        return parse_error("", value, f": extra text: {_quote(value)}")
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    days = 29 if month == 2 and leap else _DAYS[month - 1]
    if not 1 <= day <= days:
        return parse_error("", value, ": day out of range")
    return None
