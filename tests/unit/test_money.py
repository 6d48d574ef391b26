from decimal import Decimal

import pytest

from domain.errors import InvalidAmount, UnknownCurrency
from domain.money import Currency, Money, parse_amount


@pytest.mark.parametrize(
    ("code", "exponent"),
    [
        ("USD", 2),
        ("EUR", 2),
        ("GBP", 2),
        ("JPY", 0),
        ("CHF", 2),
        ("CAD", 2),
        ("AUD", 2),
        ("BHD", 3),
        ("KWD", 3),
    ],
)
def test_currencies_carry_their_iso_4217_minor_unit_exponent(code: str, exponent: int) -> None:
    assert Currency.of(code).exponent == exponent


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ("100.00", "USD", 10000),
        ("100", "USD", 10000),
        ("0.01", "USD", 1),
        (Decimal("100.10"), "USD", 10010),
        (5, "JPY", 5),
        ("1.234", "BHD", 1234),
        ("1E+3", "USD", 100000),
    ],
)
def test_parses_exact_decimals_into_minor_units(amount: object, currency: str, minor: int) -> None:
    assert Money.parse(amount, currency).minor == minor  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("amount", "currency"),
    [("1.001", "USD"), ("1.5", "JPY"), ("0.0001", "BHD"), ("0.001", "EUR")],
)
def test_refuses_more_decimals_than_the_currency_has(amount: str, currency: str) -> None:
    with pytest.raises(InvalidAmount, match="decimal places"):
        Money.parse(amount, currency)


@pytest.mark.parametrize(
    "amount",
    ["-5", "0", "0.00", "-0.01", "NaN", "Infinity", "abc", "", " 1", "1e999999", True, 1.5],
)
def test_refuses_non_positive_or_non_numeric_amounts(amount: object) -> None:
    with pytest.raises(InvalidAmount):
        Money.parse(amount, "USD")  # type: ignore[arg-type]


@pytest.mark.parametrize("code", ["XYZ", "usd", "", "US", None])
def test_unknown_currency_is_refused(code: object) -> None:
    with pytest.raises(UnknownCurrency):
        Money.parse("1.00", code)  # type: ignore[arg-type]


def test_formats_with_exactly_the_currency_places() -> None:
    assert Money.parse("100", "USD").format() == "100.00"
    assert Money.parse("7", "JPY").format() == "7"
    assert Money.parse("0.5", "KWD").format() == "0.500"
    assert str(Money.parse("2.5", "EUR")) == "2.50 EUR"


def test_money_is_a_frozen_value() -> None:
    a, b = Money.parse("1.00", "USD"), Money.of_minor(100, "USD")
    assert a == b
    with pytest.raises(AttributeError):
        a.minor = 5  # type: ignore[misc]


def test_refuses_absurdly_large_amounts() -> None:
    with pytest.raises(InvalidAmount, match="too large"):
        Money.parse("100000000000000", "USD")


# -- the wire grammar (CONTRACT.md "Strict input") -------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("100", Decimal("100")),
        ("100.00", Decimal("100.00")),
        ("0.5", Decimal("0.5")),
        ("0100.10", Decimal("100.10")),
        ("1.000000000000000000000001", Decimal("1.000000000000000000000001")),
        ("-5", Decimal("-5")),  # read, so that Money.parse refuses it as not positive
    ],
)
def test_parse_amount_reads_ascii_digits_with_one_point_exactly(text: str, value: Decimal) -> None:
    parsed = parse_amount(text)
    assert parsed == value
    assert parsed.as_tuple() == value.as_tuple()  # same digits and places, not just equal


@pytest.mark.parametrize(
    "text",
    [
        "\u0661\u0660\u0660",
        "\uff11\uff10\uff10",
        "\u0967\u0966\u0966",
        "100.\u0660\u0660",
        "+100",
        " 100",
        "100 ",
        "100\n",
        "1_000",
        "1 000",
        "1,000",
        "1e2",
        "1E+2",
        "100.",
        ".5",
        "1.0.0",
        "--5",
        "-",
        "NaN",
        "Infinity",
        "0x64",
        "",
        "1" * 41,
    ],
)
def test_parse_amount_refuses_what_decimal_or_int_would_read_loosely(text: str) -> None:
    with pytest.raises(InvalidAmount, match="ASCII digits"):
        parse_amount(text)


@pytest.mark.parametrize("value", [100, Decimal("100"), 1.5, None, True])
def test_parse_amount_takes_only_text(value: object) -> None:
    with pytest.raises(InvalidAmount):
        parse_amount(value)  # type: ignore[arg-type]


def test_the_refusal_shows_the_offending_characters_as_escapes() -> None:
    with pytest.raises(InvalidAmount, match=r"\\u0661\\u0660\\u0660"):
        parse_amount("\u0661\u0660\u0660")
