"""JSON request bodies decoded strictly and exactly (CONTRACT.md "Strict input").

Litestar decodes a body to plain Python values (every JSON number with a
fraction becomes a float) and then converts them to the handler's type with
msgspec's lax rules ("1" and 1.0 become the integer 1). That let
``"user_id": "1"`` through and rounded ``1.000000000000000001`` to a valid
1.00. `StrictJsonRequest` instead decodes the body once, straight into the
handler's ``data`` type, with ``strict=True``; the literal of a JSON number
reaches `Amount` as text, never as a float.

`Amount` is the wire type of an amount: a Decimal that exists only after
`domain.money.parse_amount`, the one home of the amount grammar, has read it.
"""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from typing import Any

import msgspec
from litestar import Request
from litestar.exceptions import ClientException, ValidationException

from domain.errors import InvalidAmount
from domain.money import parse_amount

__all__ = ["Amount", "StrictJsonRequest", "decode_strict"]


class JsonNumber(str):
    """The literal text of a JSON number with a fraction or exponent ("100.10", "1e2")."""

    __slots__ = ()


class Amount(Decimal):
    """An amount as a request carried it: a decimal string, or a JSON number read exactly."""

    __slots__ = ()

    @classmethod
    def decode(cls, value: object) -> Amount:
        """The amount `value` (as decoded from JSON) stands for; ValueError/TypeError if none."""
        if isinstance(value, str):  # a JSON string, or a JsonNumber's literal
            try:
                return cls(parse_amount(str(value)))
            except InvalidAmount as exc:
                raise ValueError(exc.detail) from None
        if isinstance(value, int) and not isinstance(value, bool):
            return cls(value)  # a JSON integer is exact as it is
        if isinstance(value, float):
            # Only a route without StrictJsonRequest gets here: its number is
            # already rounded to binary, so refuse rather than guess.
            raise TypeError("amount cannot be read exactly from this number; send a string")
        raise TypeError('amount must be a decimal string (like "100.00") or a JSON number')

    @staticmethod
    def _decoder(_: Any, value: object) -> Amount:
        # Litestar's signature model calls a type's `_decoder` to build it from
        # a plain value, which keeps apps built without StrictJsonRequest strict
        # about the grammar too (tests build such apps around PaymentRequest).
        return Amount.decode(value)


def _dec_hook(type_: Any, value: object) -> object:
    if type_ is Amount:
        return Amount.decode(value)
    raise NotImplementedError(f"no strict decoding for {type_!r}")


@cache
def _decoder(target: Any) -> msgspec.json.Decoder[Any]:
    # float_hook only sees numbers bound for a custom type (Amount) or Any:
    # typed int/float fields are decoded by msgspec itself, strictly.
    return msgspec.json.Decoder(target, strict=True, dec_hook=_dec_hook, float_hook=JsonNumber)


def decode_strict(body: bytes, target: Any, where: str) -> Any:
    """Decode `body` as `target` with no coercion; 400 with the reason and the field if not."""
    try:
        return _decoder(target).decode(body)
    except msgspec.ValidationError as exc:
        message, _, at = str(exc).partition(" - at `")
        key = at.rstrip("`").removeprefix("$").removeprefix(".") or "data"
        detail = f"Validation failed for {where}: {message} (at {key})"
        raise ValidationException(
            detail=detail, extra=[{"message": message, "key": key, "source": "body"}]
        ) from None
    except msgspec.DecodeError as exc:
        raise ClientException(detail=f"JSON is malformed: {exc}") from None


class StrictJsonRequest(Request[Any, Any, Any]):
    """A request whose JSON body is decoded into the handler's `data` type, strictly.

    Set as `request_class` on controllers whose bodies carry money or ids.
    """

    async def json(self) -> Any:
        """The body as the handler's `data` type (plain JSON for handlers without one)."""
        field = self.route_handler.parsed_data_field
        if field is None:
            return await super().json()
        body = await self.body()
        return decode_strict(body or b"null", field.annotation, f"{self.method} {self.url.path}")
