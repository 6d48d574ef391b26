"""The JSON family's callback verifier (Stripe-style signed JSON events)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Literal

import msgspec

from adapters.gateways.callbacks import MAX_ID_LENGTH, refuse_control_characters
from adapters.gateways.signing_json import SIGNATURE_HEADER, SignatureCheck
from application.ports import GatewayCallback
from domain.errors import InvalidInput, MalformedCallback
from domain.money import Money

Text = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_ID_LENGTH)]
# ASCII digits, at most one '.' with digits on both sides: no sign, exponent,
# whitespace or other scripts' digits (re's [0-9] is ASCII only).
_DECIMAL = re.compile(r"[0-9]{1,19}(?:\.[0-9]{1,18})?")
_CURRENCY = re.compile(r"[A-Z]{3}")


class JsonCallbackBody(msgspec.Struct, forbid_unknown_fields=False):
    """The JSON family's callback (unknown extra fields are tolerated, as PSPs add them)."""

    event_id: Text
    transaction_id: Text
    status: Literal["completed", "failed"]
    reference_id: Text | None = None
    message: Annotated[str, msgspec.Meta(max_length=500)] = ""
    # Stated as Stripe's events do; optional for compatibility, checked when present.
    amount: Annotated[str, msgspec.Meta(max_length=40)] | None = None
    currency: Annotated[str, msgspec.Meta(max_length=3)] | None = None


_json_body = msgspec.json.Decoder(JsonCallbackBody)


class JsonCallbackVerifier:
    family = "json"

    def __init__(
        self,
        gateway_id: str,
        secrets: Sequence[str],
        *,
        tolerance_s: int = 300,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._gateway_id = gateway_id
        self._check = SignatureCheck(SIGNATURE_HEADER, list(secrets), tolerance_s, clock)

    def verify(self, headers: Mapping[str, str], body: bytes) -> list[GatewayCallback]:
        self._check(headers, body)
        try:
            parsed = _json_body.decode(body)
        except msgspec.DecodeError as exc:
            raise MalformedCallback(f"not a valid callback: {exc}") from None
        refuse_control_characters(
            parsed.event_id, parsed.transaction_id, parsed.reference_id, parsed.message
        )
        amount_minor, mismatch = _stated_amount(parsed.amount, parsed.currency)
        return [
            GatewayCallback(
                gateway_id=self._gateway_id,
                event_id=parsed.event_id,
                transaction_id=parsed.transaction_id,
                status=parsed.status,
                reference_id=parsed.reference_id,
                message=parsed.message or f"Gateway reports {parsed.status}",
                amount_minor=amount_minor,
                currency=parsed.currency,
                mismatch=mismatch,
            )
        ]


def _stated_amount(amount: str | None, currency: str | None) -> tuple[int | None, str | None]:
    """Minor units of a JSON callback's amount, or why no payment of ours can have it."""
    if currency is not None and not _CURRENCY.fullmatch(currency):
        raise MalformedCallback("currency must be an ISO 4217 code")
    if amount is None:
        return None, None
    if currency is None:
        raise MalformedCallback("an amount needs its currency")
    if not _DECIMAL.fullmatch(amount):
        raise MalformedCallback("amount must be a decimal string")
    try:
        return Money.parse(amount, currency).minor, None
    except InvalidInput as exc:
        # Well-formed and signed, but not an amount we could have sent (zero,
        # too many decimals, a currency we never use): flag it, never apply it.
        return None, f"gateway states {amount} {currency}: {exc.detail}"
