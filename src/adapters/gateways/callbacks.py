"""Callback verifiers: one per gateway family (the CallbackVerifier port).

Signatures are checked before anything is trusted; the parsed result is a
list of GatewayCallback, never a library type. What a family states about the
payment (amount, currency, gateway reference) is passed on for the applying
worker to compare with the accepted attempt; what cannot be about our payment
at all (another merchant account, an amount no payment can have) is marked
``mismatch``: stored and flagged, never applied.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Literal

import msgspec

from adapters.gateways.signing_json import SIGNATURE_HEADER, verify_json
from adapters.gateways.signing_soap import NotificationItem, parse_notification, verify_adyen_item
from application.ports import CallbackVerifier, GatewayCallback
from domain.errors import InvalidInput, MalformedCallback
from domain.money import Money

MAX_ID_LENGTH = 200  # the inbox's event id column holds at most this
Text = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_ID_LENGTH)]
# The merchant account our SOAP adapter sends (soap_http.py's default).
DEFAULT_MERCHANT_ACCOUNT = "PaymentsPlatform"
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
        self._secrets = list(secrets)
        self._tolerance_s = tolerance_s
        self._clock = clock

    def verify(self, headers: Mapping[str, str], body: bytes) -> list[GatewayCallback]:
        verify_json(
            headers.get(SIGNATURE_HEADER.lower()) or headers.get(SIGNATURE_HEADER),
            body,
            self._secrets,
            now=self._clock(),
            tolerance_s=self._tolerance_s,
        )
        try:
            parsed = _json_body.decode(body)
        except msgspec.DecodeError as exc:
            raise MalformedCallback(f"not a valid callback: {exc}") from None
        _printable(parsed.event_id, parsed.transaction_id, parsed.reference_id, parsed.message)
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


# Adyen event codes that settle a payment or payout; others are acknowledged
# (Adyen requires [accepted] for every item) but carry nothing to apply.
_SETTLING = {
    "AUTHORISATION": None,  # success decides
    "PAYOUT_THIRDPARTY": None,
    "PAYOUT_DECLINE": "failed",
    "PAYOUT_EXPIRE": "failed",
    "CANCELLATION": "failed",
}


class AdyenCallbackVerifier:
    family = "soap"

    def __init__(
        self,
        gateway_id: str,
        hex_keys: Sequence[str],
        *,
        merchant_account: str = DEFAULT_MERCHANT_ACCOUNT,
    ) -> None:
        self._gateway_id = gateway_id
        self._keys = list(hex_keys)
        self._merchant_account = merchant_account

    def verify(self, headers: Mapping[str, str], body: bytes) -> list[GatewayCallback]:
        items = parse_notification(body)
        for item in items:  # every item must be signed: one forged item rejects all
            verify_adyen_item(item, self._keys)
        callbacks = [self._callback(item) for item in items if item.event_code in _SETTLING]
        for callback in callbacks:
            _printable(callback.event_id, callback.transaction_id, callback.message)
            if len(callback.event_id) > MAX_ID_LENGTH:
                raise MalformedCallback("notification identifiers are too long")
        return callbacks

    def _callback(self, item: NotificationItem) -> GatewayCallback:
        status = _SETTLING[item.event_code] or ("completed" if item.success else "failed")
        success = "true" if item.success else "false"
        return GatewayCallback(
            gateway_id=self._gateway_id,
            # Adyen's own advice: pspReference + eventCode + success identify a notification.
            event_id=f"{item.psp_reference}:{item.event_code}:{success}",
            transaction_id=item.merchant_reference,
            status=status,
            reference_id=item.psp_reference,
            message=item.reason or f"{item.event_code} {'succeeded' if item.success else 'failed'}",
            amount_minor=item.value,
            currency=item.currency,
            mismatch=None
            if item.merchant_account == self._merchant_account
            else f"merchant account {item.merchant_account[:100]!r} is not ours",
        )


def _printable(*values: str | None) -> None:
    # PostgreSQL text cannot hold NUL, and no legitimate identifier or message
    # contains control characters: refuse them before anything is stored.
    for value in values:
        if value and any(ord(c) < 32 and c not in "\t\n\r" for c in value):
            raise MalformedCallback("callback fields contain control characters")


class CallbackVerifierRegistry:
    def __init__(self, verifiers: Mapping[str, CallbackVerifier]) -> None:
        self._verifiers = dict(verifiers)

    def get(self, gateway_id: str) -> CallbackVerifier | None:
        return self._verifiers.get(gateway_id)
