"""Resource quantities (``500m``, ``1.5Gi``, ``1e3``) with upstream's exact semantics.

Upstream keeps a quantity as a fixed-point number that is rounded *up* (away from
zero) to nano precision when parsed, remembers which of the three notations it was
written in (decimal SI, binary SI, decimal exponent), and prints it back in a
canonical form in that notation.  Clients diff manifests against what the server
returns, so the canonical strings here follow upstream byte for byte, quirks included:

* a string that upstream's fast parser considers already canonical is echoed back
  verbatim (``"+1"`` stays ``"+1"``, ``"01"`` stays ``"01"``);
* a decimal-SI value whose exponent has no suffix (``1000E`` = 1e21) prints without a
  suffix, exactly as upstream does.

The value is held as an exact integer count of nano-units, so arithmetic and
comparisons never go through floating point.
"""

from __future__ import annotations

import functools
import re

__all__ = [
    "BINARY_SI",
    "DECIMAL_EXPONENT",
    "DECIMAL_SI",
    "ERR_FORMAT_WRONG",
    "ERR_NUMERIC",
    "ERR_SUFFIX",
    "Quantity",
    "QuantityError",
    "parse_quantity",
]

DECIMAL_EXPONENT = "DecimalExponent"
BINARY_SI = "BinarySI"
DECIMAL_SI = "DecimalSI"

_SPLIT_RE = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
ERR_FORMAT_WRONG = "quantities must match the regular expression '" + _SPLIT_RE + "'"
ERR_NUMERIC = "unable to parse numeric part of quantity"
ERR_SUFFIX = "unable to parse quantity's suffix"

_NANO = 10**9
_MAX_INT64 = 2**63 - 1
# Beyond any meaningful resource amount; keeps adversarial input ("1e999999999")
# from materialising astronomically large integers.  Upstream would accept these.
_MAX_DIGITS = 1000
_MAX_EXPONENT = 1000

_SUFFIX_CHARS = frozenset("eEinumkKMGTP")
_DECIMAL_SUFFIXES = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL_SUFFIX_FOR_EXPONENT = {v: k for k, v in _DECIMAL_SUFFIXES.items()}
_BINARY_SUFFIX_FOR_POWER = {v // 10: k for k, v in _BINARY_SUFFIXES.items()}
_SIGNED_INT_RE = re.compile(r"[+-]?[0-9]+")


class QuantityError(ValueError):
    """A string that is not a quantity; the message is upstream's."""


def _div_away_from_zero(numerator: int, denominator: int) -> int:
    """Integer division rounding away from zero (upstream's ``inf.RoundUp``)."""
    quotient, remainder = divmod(abs(numerator), denominator)
    if remainder:
        quotient += 1
    return quotient if numerator >= 0 else -quotient


def _scan(text: str) -> tuple[bool, str, str, str, str]:
    """Split ``text`` into (positive, value, numerator, denominator, suffix).

    Mirrors upstream's hand-written scanner, including what it tolerates ("1.",
    ".5", a lone sign) and where it gives up.
    """
    positive = True
    pos = 0
    end = len(text)
    if pos < end and text[0] in "+-":
        positive = text[0] != "-"
        pos += 1
    # leading zeros are not part of the numerator
    while True:
        if pos >= end:
            return positive, "0", "0", "", ""
        if text[pos] != "0":
            break
        pos += 1
    start = pos
    while pos < end and text[pos].isdigit() and text[pos].isascii():
        pos += 1
    if pos >= end:
        return positive, text, text[start:] or "0", "", ""
    num = text[start:pos] or "0"
    denom = ""
    if text[pos] == ".":
        pos += 1
        dstart = pos
        while pos < end and text[pos].isdigit() and text[pos].isascii():
            pos += 1
        denom = text[dstart:pos]
        if pos >= end:
            return positive, text, num, denom, ""
    value = text[:pos]
    suffix_start = pos
    while pos < end and text[pos] in _SUFFIX_CHARS:
        pos += 1
    if pos >= end:
        return positive, value, num, denom, text[suffix_start:]
    if text[pos] in "+-":
        pos += 1
    while pos < end:
        if not (text[pos].isdigit() and text[pos].isascii()):
            raise QuantityError(ERR_FORMAT_WRONG)
        pos += 1
    return positive, value, num, denom, text[suffix_start:]


def _interpret_suffix(suffix: str) -> tuple[int, int, str]:
    """Return (base, exponent, format) for a suffix or raise ``ERR_SUFFIX``."""
    if suffix in _DECIMAL_SUFFIXES:
        return 10, _DECIMAL_SUFFIXES[suffix], DECIMAL_SI
    if suffix in _BINARY_SUFFIXES:
        return 2, _BINARY_SUFFIXES[suffix], BINARY_SI
    if len(suffix) > 1 and suffix[0] in "eE" and _SIGNED_INT_RE.fullmatch(suffix[1:]):
        exponent = int(suffix[1:])
        if abs(exponent) > _MAX_EXPONENT:
            raise QuantityError(ERR_SUFFIX)
        return 10, exponent, DECIMAL_EXPONENT
    raise QuantityError(ERR_SUFFIX)


def parse_quantity(text: str) -> Quantity:
    """Parse a quantity string the way the API server does (no surrounding spaces)."""
    if not isinstance(text, str):
        raise QuantityError(ERR_FORMAT_WRONG)
    if text == "":
        raise QuantityError(ERR_FORMAT_WRONG)
    if text == "0":
        return Quantity(0, DECIMAL_SI, text)
    positive, _value, num, denom, suffix = _scan(text)
    base, exponent, fmt = _interpret_suffix(suffix)
    if len(num) + len(denom) > _MAX_DIGITS:
        raise QuantityError(ERR_NUMERIC)

    digits = int(num + denom)
    sign = 1 if positive else -1
    cached = _fast_path_string(text, fmt, exponent, num, denom)

    if base == 10:
        scale = exponent - len(denom) + 9  # power of ten that turns digits into nanos
        nanos = digits * 10**scale if scale >= 0 else _div_away_from_zero(digits, 10**-scale)
    else:
        nanos = _div_away_from_zero(digits * (1 << exponent) * _NANO, 10 ** len(denom))
        if nanos > _MAX_INT64 * _NANO:
            nanos = _MAX_INT64 * _NANO
        if 0 < nanos < _NANO:
            # a fraction of one unit cannot be written in binary SI
            fmt = DECIMAL_SI
    return Quantity(sign * nanos, fmt, cached)


def _fast_path_string(text: str, fmt: str, exponent: int, num: str, denom: str) -> str | None:
    """The input string if upstream's fast parser would keep it as the canonical form."""
    if fmt == BINARY_SI:
        if denom:
            return None
        precision = 15 - len(num) - (exponent * 3) // 10 - 1
        if precision < 0:
            return None
        value = int(num)
        if value * (1 << exponent) > _MAX_INT64:
            return None
        return text if exponent % 10 == 0 and value & 0x07 != 0 else None
    precision = 18 - (len(num) + len(denom))
    scale = exponent - len(denom)
    if precision < 0 or scale < -9:
        return None
    shifted = num + denom
    if scale % 3 == 0 and not shifted.endswith("000") and shifted[0] != "0":
        return text
    return None


@functools.total_ordering
class Quantity:
    """An exact resource amount plus the notation it prints in.

    Construct with :func:`parse_quantity` or the ``from_*`` helpers.  Instances are
    immutable; arithmetic returns new quantities.
    """

    __slots__ = ("_cached", "_nanos", "format")

    def __init__(self, nanos: int, fmt: str = DECIMAL_SI, cached: str | None = None) -> None:
        self._nanos = nanos
        self.format = fmt
        self._cached = cached

    # -- constructors -------------------------------------------------------
    @classmethod
    def parse(cls, text: str) -> Quantity:
        return parse_quantity(text)

    @classmethod
    def from_int(cls, value: int, fmt: str = DECIMAL_SI) -> Quantity:
        return cls(value * _NANO, fmt)

    @classmethod
    def from_milli(cls, value: int, fmt: str = DECIMAL_SI) -> Quantity:
        return cls(value * 10**6, fmt)

    @classmethod
    def from_nanos(cls, value: int, fmt: str = DECIMAL_SI) -> Quantity:
        return cls(value, fmt)

    # -- values ---------------------------------------------------------------
    @property
    def nanos(self) -> int:
        """The exact amount in units of 1e-9."""
        return self._nanos

    def is_zero(self) -> bool:
        return self._nanos == 0

    def sign(self) -> int:
        return (self._nanos > 0) - (self._nanos < 0)

    def scaled_value(self, scale: int) -> int:
        """The amount in units of 10**scale, rounded up (away from zero)."""
        power = scale + 9
        if power <= 0:
            return self._nanos * 10**-power
        return _div_away_from_zero(self._nanos, 10**power)

    def value(self) -> int:
        """The amount rounded up to a whole number (upstream ``Value()``)."""
        return self.scaled_value(0)

    def milli_value(self) -> int:
        """The amount in thousandths, rounded up (upstream ``MilliValue()``)."""
        return self.scaled_value(-3)

    def as_fraction_parts(self) -> tuple[int, int]:
        """(numerator, denominator) of the exact amount, reduced."""
        from math import gcd

        g = gcd(self._nanos, _NANO) or 1
        return self._nanos // g, _NANO // g

    # -- arithmetic -------------------------------------------------------------
    def _merged_format(self, other: Quantity) -> str:
        return other.format if self._nanos == 0 else self.format

    def __add__(self, other: object) -> Quantity:
        if not isinstance(other, Quantity):
            return NotImplemented
        return Quantity(self._nanos + other._nanos, self._merged_format(other))

    def __sub__(self, other: object) -> Quantity:
        if not isinstance(other, Quantity):
            return NotImplemented
        return Quantity(self._nanos - other._nanos, self._merged_format(other))

    def __neg__(self) -> Quantity:
        return Quantity(-self._nanos, self.format)

    def __mul__(self, factor: object) -> Quantity:
        if not isinstance(factor, int) or isinstance(factor, bool):
            return NotImplemented
        return Quantity(self._nanos * factor, self.format)

    __rmul__ = __mul__

    # -- comparison ---------------------------------------------------------------
    def cmp(self, other: Quantity) -> int:
        return (self._nanos > other._nanos) - (self._nanos < other._nanos)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Quantity):
            return NotImplemented
        return self._nanos == other._nanos

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Quantity):
            return NotImplemented
        return self._nanos < other._nanos

    def __hash__(self) -> int:
        return hash(self._nanos)

    # -- formatting -----------------------------------------------------------------
    def __str__(self) -> str:
        if self._cached is None:
            self._cached = self._canonical()
        return self._cached

    def __repr__(self) -> str:
        return f"Quantity({str(self)!r})"

    def _canonical(self) -> str:
        if self._nanos == 0:
            return "0"
        fmt = self.format
        if fmt == BINARY_SI and (-1024 * _NANO < self._nanos < 1024 * _NANO or self._nanos % _NANO):
            # small or fractional binary amounts read better (and exactly) in decimal
            fmt = DECIMAL_SI
        if fmt == BINARY_SI:
            mantissa = self._nanos // _NANO
            power = 0
            while abs(mantissa) >= 1024 and mantissa % 1024 == 0:
                mantissa //= 1024
                power += 1
            return str(mantissa) + _BINARY_SUFFIX_FOR_POWER.get(power, "")
        mantissa, exponent = self._nanos, -9
        while mantissa % 10 == 0:
            mantissa //= 10
            exponent += 1
        shift = exponent % 3
        mantissa *= 10**shift
        exponent -= shift
        if fmt == DECIMAL_EXPONENT:
            return str(mantissa) + ("" if exponent == 0 else f"e{exponent}")
        # upstream prints no suffix when none exists for the exponent (e.g. 1e21)
        return str(mantissa) + _DECIMAL_SUFFIX_FOR_EXPONENT.get(exponent, "")
