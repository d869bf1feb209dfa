"""Quantity parsing, canonical forms and arithmetic, from upstream's quantity_test.go tables."""

from __future__ import annotations

import pytest

from kubeherd.api.quantity import (
    BINARY_SI,
    DECIMAL_EXPONENT,
    DECIMAL_SI,
    ERR_FORMAT_WRONG,
    ERR_SUFFIX,
    Quantity,
    QuantityError,
    parse_quantity,
)

NANO = 10**9


def nanos(text: str) -> int:
    return parse_quantity(text).nanos


# (input, exact value in nano-units, format) — TestQuantityParse
PARSE_TABLE = [
    ("0", 0, DECIMAL_SI),
    ("0n", 0, DECIMAL_SI),
    ("0Ki", 0, BINARY_SI),
    ("0M", 0, DECIMAL_SI),
    ("1", NANO, DECIMAL_SI),
    ("1Ki", 1024 * NANO, BINARY_SI),
    ("7Mi", 7 * 1024**2 * NANO, BINARY_SI),
    ("6Gi", 6 * 1024**3 * NANO, BINARY_SI),
    ("3Ei", 3 * 1024**6 * NANO, BINARY_SI),
    ("5n", 5, DECIMAL_SI),
    ("4u", 4000, DECIMAL_SI),
    ("3m", 3 * 10**6, DECIMAL_SI),
    ("50k", 50_000 * NANO, DECIMAL_SI),
    ("1E", 10**18 * NANO, DECIMAL_SI),
    ("1E-3", 10**6, DECIMAL_EXPONENT),
    ("1e3", 1000 * NANO, DECIMAL_EXPONENT),
    ("1.3E+6", 1_300_000 * NANO, DECIMAL_EXPONENT),
    ("100.035k", 100_035 * NANO, DECIMAL_SI),
    ("0.0005k", NANO // 2, DECIMAL_SI),
    ("0.5e-2", 5 * 10**6, DECIMAL_EXPONENT),
    ("7.123456M", 7_123_456 * NANO, DECIMAL_SI),
    ("3.001n", 4, DECIMAL_SI),  # rounds up
    ("1.1E-9", 2, DECIMAL_EXPONENT),
    ("0.0000000005", 1, DECIMAL_SI),
    ("0.00000012345", 124, DECIMAL_SI),
    ("9Ei", (2**63 - 1) * NANO, BINARY_SI),  # capped at int64
    ("9223372036854775807Ki", (2**63 - 1) * NANO, BINARY_SI),
    ("100.035Ki", 10243584 * NANO // 100, BINARY_SI),
    ("0.5Mi", 524288 * NANO, BINARY_SI),
    ("0.000000000001Ki", 2, DECIMAL_SI),  # rounds up and changes format
    (".001", 10**6, DECIMAL_SI),
    (".0001k", 10**8, DECIMAL_SI),
    ("1.", NANO, DECIMAL_SI),
    ("1.G", NANO * NANO, DECIMAL_SI),
]


@pytest.mark.parametrize(("text", "value", "fmt"), PARSE_TABLE)
def test_parse_values_and_formats(text: str, value: int, fmt: str) -> None:
    q = parse_quantity(text)
    assert (q.nanos, q.format) == (value, fmt)
    # signs are accepted and respected
    assert parse_quantity("+" + text).nanos == value
    assert parse_quantity("-" + text).nanos == -value


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", ERR_FORMAT_WRONG),
        ("1.1.M", ERR_FORMAT_WRONG),
        ("1+1.0M", ERR_FORMAT_WRONG),
        ("0.1mi", ERR_SUFFIX),
        ("0.1am", ERR_FORMAT_WRONG),
        ("aoeu", ERR_FORMAT_WRONG),
        (".5i", ERR_SUFFIX),
        ("1i", ERR_SUFFIX),
        ("-3.01e-", ERR_SUFFIX),
        (" 1", ERR_FORMAT_WRONG),
        ("1 ", ERR_FORMAT_WRONG),
    ],
)
def test_invalid_quantities_carry_upstream_messages(text: str, message: str) -> None:
    with pytest.raises(QuantityError) as e:
        parse_quantity(text)
    assert str(e.value) == message


def test_format_error_message_is_upstreams_regex() -> None:
    assert (
        ERR_FORMAT_WRONG
        == "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    )


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        # TestQuantityParseEmit
        ("1Ki", "1Ki"),
        ("1024Mi", "1Gi"),
        ("1000M", "1G"),
        (".001Ki", "1024m"),
        (".000001Ki", "1024u"),
        (".000000001Ki", "1024n"),
        (".000000000001Ki", "2n"),
        # TestQuantityString alternates
        ("307200Ki", "300Mi"),
        ("5000m", "5"),
        ("0.001T", "1G"),
        ("1000u", "1m"),
        ("1.08", "1080m"),
        ("1080000000n", "1080m"),
        (".001e12", "1e9"),
        ("0.001e0", "1e-3"),
        ("1000e-12", "1e-9"),
        ("00", "0"),
        # the examples from the issue
        ("1000m", "1"),
        ("1.5Gi", "1536Mi"),
        ("0.1", "100m"),
        ("1.5", "1500m"),
        ("1.5e3", "1500"),
        ("0.5Mi", "512Ki"),
    ],
)
def test_canonical_form(text: str, canonical: str) -> None:
    assert str(parse_quantity(text)) == canonical


@pytest.mark.parametrize(
    "text",
    [
        "1Gi",
        "300Mi",
        "6Ki",
        "1001Gi",
        "5",
        "500m",
        "1G",
        "1m",
        "80m",
        "1080m",
        "300M",
        "1234567M",
        "3k",
        "1025",
        "0",
        "1e9",
        "1e-3",
        "80e-3",
        "300e6",
        "1n",
        "1080n",
        "1u",
    ],
)
def test_canonical_strings_round_trip_unchanged(text: str) -> None:
    assert str(parse_quantity(text)) == text
    assert str(parse_quantity("-" + text)) == ("0" if text == "0" else "-" + text)


def test_already_canonical_input_is_echoed_like_upstream() -> None:
    # upstream's fast path keeps the original string when it is "canonical enough"
    assert str(parse_quantity("+1")) == "+1"
    assert str(parse_quantity("01")) == "01"
    # but not after any arithmetic
    assert str(parse_quantity("+1") + parse_quantity("0")) == "1"


def test_decimal_exponent_without_suffix_prints_bare_number_like_upstream() -> None:
    assert str(parse_quantity("1000E")) == "1"
    assert parse_quantity("1000E").nanos == 10**21 * NANO


def test_zero_keeps_suffix_of_the_other_operand() -> None:
    # TestQuantityAddZeroPreservesSuffix / SubZeroPreservesSuffix
    zero = parse_quantity("0")
    for text in ("100m", "1Gi"):
        value = parse_quantity(text)
        assert str(value + zero) == text
        assert str(zero + value) == text
        assert str(value - zero) == text
        assert str(zero - value) == str(-value)


def test_arithmetic_is_exact() -> None:
    total = parse_quantity("100m") + parse_quantity("200m")
    assert total == parse_quantity("300m")
    assert str(total) == "300m"
    assert str(parse_quantity("1Gi") - parse_quantity("512Mi")) == "512Mi"
    assert str(parse_quantity("3") * 4) == "12"
    assert str(-parse_quantity("9.01")) == "-9010m"


def test_comparisons() -> None:
    # TestQuantityCmp
    assert parse_quantity("100m") > parse_quantity("50m")
    assert parse_quantity("50m") < parse_quantity("100m")
    assert parse_quantity("10000T") > parse_quantity("100Gi")
    assert parse_quantity("1") == parse_quantity("1000m")
    assert parse_quantity("1Ki") == parse_quantity("1024")
    assert hash(parse_quantity("1")) == hash(parse_quantity("1000m"))
    assert parse_quantity("2").cmp(parse_quantity("1")) == 1


def test_value_and_milli_value_round_up() -> None:
    assert parse_quantity("1.5").milli_value() == 1500
    assert parse_quantity("1.5").value() == 2
    assert parse_quantity("100m").value() == 1
    assert parse_quantity("1m").milli_value() == 1
    assert parse_quantity("0.5m").milli_value() == 1
    assert parse_quantity("1Gi").value() == 1024**3
    # negative amounts round away from zero
    assert parse_quantity("-1.5").value() == -2
    assert parse_quantity("9.01").scaled_value(-1) == 91


def test_constructors() -> None:
    assert str(Quantity.from_int(2048, BINARY_SI)) == "2Ki"
    assert str(Quantity.from_milli(1500)) == "1500m"
    assert str(Quantity.from_int(5, BINARY_SI)) == "5"
    assert str(Quantity.from_milli(500, BINARY_SI)) == "500m"


def test_non_string_input_is_rejected() -> None:
    with pytest.raises(QuantityError):
        parse_quantity(5)  # type: ignore[arg-type]
