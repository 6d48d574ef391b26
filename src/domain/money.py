"""Exact money: ISO 4217 currencies and amounts held as integer minor units."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from domain.errors import InvalidAmount, UnknownCurrency


@dataclass(frozen=True, slots=True)
class Currency:
    """An ISO 4217 currency and the number of digits after its decimal point."""

    code: str
    exponent: int

    @classmethod
    def of(cls, code: str) -> Currency:
        try:
            return CURRENCIES[code]
        except (KeyError, TypeError):
            raise UnknownCurrency(f"unknown currency {code!r}") from None


# Exponents from ISO 4217 (the "minor unit" column).
CURRENCIES: dict[str, Currency] = {
    c.code: c
    for c in (
        Currency("USD", 2),
        Currency("EUR", 2),
        Currency("GBP", 2),
        Currency("CHF", 2),
        Currency("CAD", 2),
        Currency("AUD", 2),
        Currency("NZD", 2),
        Currency("SEK", 2),
        Currency("NOK", 2),
        Currency("DKK", 2),
        Currency("PLN", 2),
        Currency("SGD", 2),
        Currency("HKD", 2),
        Currency("INR", 2),
        Currency("BRL", 2),
        Currency("MXN", 2),
        Currency("ZAR", 2),
        Currency("JPY", 0),
        Currency("KRW", 0),
        Currency("BHD", 3),
        Currency("KWD", 3),
        Currency("JOD", 3),
        Currency("OMR", 3),
        Currency("TND", 3),
    )
}

# Far above any single payment, far below BIGINT: guards against absurd input.
MAX_MINOR_UNITS = 10**15

# How a client writes an amount (CONTRACT.md "Strict input"): ASCII digits, at
# most one point, with digits on both sides of it. Decimal() alone also reads
# "+1", " 1", "1_000", "1e2", "NaN" and any script's digits (Arabic-Indic,
# fullwidth, ...), so it only ever sees text this has matched. `[0-9]`, not
# `\d` or str.isdigit(): both take Unicode digits. The minus is matched only
# so that a negative amount is refused by Money.parse for what it is: not
# positive.
_AMOUNT_TEXT = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
MAX_AMOUNT_CHARS = 40


def parse_amount(text: str) -> Decimal:
    """Read an amount as the API's clients must write it, exactly (the one wire grammar).

    Also reads the literal of a JSON number, so exponent forms ("1e2") are
    refused there too. Whether the value is positive, has no more places than
    its currency and is not too large is for Money.parse.
    """
    if (
        not isinstance(text, str)
        or len(text) > MAX_AMOUNT_CHARS
        or not _AMOUNT_TEXT.fullmatch(text)
    ):
        shown = ascii(text[:MAX_AMOUNT_CHARS]) if isinstance(text, str) else type(text).__name__
        raise InvalidAmount(
            'amount must be ASCII digits with at most one "." (like "100.00"): no sign, '
            f"spaces, underscores or exponent; got {shown}"
        )
    return Decimal(text)


@dataclass(frozen=True, slots=True)
class Money:
    """A positive amount in one currency, stored as integer minor units."""

    minor: int
    currency: Currency

    def __post_init__(self) -> None:
        if isinstance(self.minor, bool) or not isinstance(self.minor, int):
            raise InvalidAmount("amount must be a whole number of minor units")
        if self.minor <= 0:
            raise InvalidAmount("amount must be positive")
        if self.minor > MAX_MINOR_UNITS:
            raise InvalidAmount("amount is too large")

    @classmethod
    def parse(cls, amount: Decimal | str | int, currency_code: str) -> Money:
        """Read an exact decimal amount; refuse more decimals than the currency has."""
        currency = Currency.of(currency_code)
        value = _to_decimal(amount)
        # Integer arithmetic on the exact digits: Decimal operations round at the
        # context precision (28 digits) and could turn 0.999…9 into 1.00.
        _, digits, exponent = value.as_tuple()
        assert isinstance(exponent, int)  # finite, checked by _to_decimal
        units = int("".join(map(str, digits)))
        shift = exponent + currency.exponent
        if shift >= 0:
            minor = units * 10**shift
        else:
            minor, rest = divmod(units, 10**-shift)
            if rest:
                raise InvalidAmount(
                    f"{currency.code} allows at most {currency.exponent} decimal places"
                )
        return cls(minor, currency)

    @classmethod
    def of_minor(cls, minor: int, currency_code: str) -> Money:
        return cls(minor, Currency.of(currency_code))

    @staticmethod
    def format_minor(minor: int, currency_code: str) -> str:
        """Format any integer of minor units (zero included), e.g. a balance."""
        currency = Currency.of(currency_code)
        return f"{Decimal(minor).scaleb(-currency.exponent):.{currency.exponent}f}"

    @property
    def amount(self) -> Decimal:
        """The amount as a Decimal with exactly the currency's decimal places."""
        return Decimal(self.minor).scaleb(-self.currency.exponent)

    def format(self) -> str:
        """Decimal string with the currency's exact number of places ("100.00", "5")."""
        return f"{self.amount:.{self.currency.exponent}f}"

    def __str__(self) -> str:
        return f"{self.format()} {self.currency.code}"


def _to_decimal(amount: Decimal | str | int) -> Decimal:
    if isinstance(amount, bool) or not isinstance(amount, Decimal | str | int):
        raise InvalidAmount("amount must be a decimal string or number")
    if isinstance(amount, str) and (len(amount) > 40 or amount != amount.strip()):
        raise InvalidAmount("amount is not a plain decimal number")
    try:
        value = Decimal(amount)
    except InvalidOperation:
        raise InvalidAmount(f"amount {amount!r} is not a decimal number") from None
    if not value.is_finite():
        raise InvalidAmount("amount must be a finite number")
    if value <= 0:
        raise InvalidAmount("amount must be positive")
    # Bound digits and exponent before any integer arithmetic, so "1e999999"
    # or a thousand-digit JSON number cannot make huge integers.
    if value.adjusted() > 18:
        raise InvalidAmount("amount is too large")
    _, digits, exponent = value.as_tuple()
    if len(digits) > 40 or (isinstance(exponent, int) and exponent < -40):
        raise InvalidAmount("amount has too many digits")
    return value
