"""Stripe webhook events for the ``stripe_api`` family: verified, then read into callbacks.

The ``Stripe-Signature`` header is checked exactly as the stripe SDK's
``Webhook.construct_event`` checks it (``t=…,v1=…`` over ``"<t>.<raw body>"``,
``signing_json.py``), before the body is read at all. The events that settle
our payments:

- ``payment_intent.succeeded`` → completed; ``payment_intent.payment_failed``
  and ``payment_intent.canceled`` → failed (a deposit);
- ``refund.created``/``refund.updated``/``charge.refund.updated`` with the
  refund's final status, and ``refund.failed`` → failed (a refund).

Each names the PaymentIntent or Refund id (the gateway reference),
``metadata.transaction_id`` (ours), the amount in minor units and the
currency, which the applying worker compares with the accepted attempt
(an event with another amount is flagged, never applied). Any other event
type, a refund still pending, or an object Stripe holds for someone else's
integration (no ``metadata.transaction_id``) is acknowledged and ignored:
refusing it would only make Stripe send it again for days.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import msgspec

from adapters.gateways.callbacks import MAX_ID_LENGTH, refuse_control_characters
from adapters.gateways.signing_json import SignatureCheck
from adapters.gateways.stripe_wire import TRANSACTION_KEY, StripeObject, convert_object
from application.ports import GatewayCallback
from domain.errors import InvalidInput, MalformedCallback

SIGNATURE_HEADER = "Stripe-Signature"
FAMILY = "stripe_api"

# Event type → the status it settles with (None: the object's own status says).
SETTLING_EVENTS: dict[str, str | None] = {
    "payment_intent.succeeded": "completed",
    "payment_intent.payment_failed": "failed",
    "payment_intent.canceled": "failed",
    "refund.created": None,
    "refund.updated": None,
    "charge.refund.updated": None,
    "refund.failed": "failed",
}


class _Data(msgspec.Struct):
    object: dict[str, Any]


class StripeEvent(msgspec.Struct):
    """The envelope of a Stripe event (other fields are ignored)."""

    id: str
    type: str
    data: _Data


_event = msgspec.json.Decoder(StripeEvent)


class StripeEventVerifier:
    """The CallbackVerifier of the ``stripe_api`` family."""

    family = FAMILY

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
            event = _event.decode(body)
        except msgspec.DecodeError as exc:
            raise MalformedCallback(f"not a Stripe event: {exc}") from None
        if event.type not in SETTLING_EVENTS:
            return []
        try:
            found = convert_object(event.data.object)
        except msgspec.ValidationError as exc:
            raise MalformedCallback(f"not a PaymentIntent or Refund: {exc}") from None
        status = SETTLING_EVENTS[event.type] or found.final_status
        transaction_id = found.metadata.get(TRANSACTION_KEY)
        if status == "processing" or not transaction_id:
            return []
        _refuse_unusable(event.id, found.id, transaction_id)
        return [self._callback(event, found, status, transaction_id)]

    def _callback(
        self, event: StripeEvent, found: StripeObject, status: str, transaction_id: str
    ) -> GatewayCallback:
        currency = found.currency.upper()
        try:
            amount_minor: int | None = found.money().minor
            mismatch = None
        except InvalidInput as exc:
            # Signed, but not an amount we could have sent: flag it, never apply it.
            amount_minor = None
            mismatch = f"Stripe states {found.amount} {found.currency}: {exc.detail}"
        return GatewayCallback(
            gateway_id=self._gateway_id,
            event_id=event.id,
            transaction_id=transaction_id,
            status=status,
            reference_id=found.id,
            message=f"Stripe {event.type}",
            amount_minor=amount_minor,
            currency=currency,
            mismatch=mismatch,
        )


def _refuse_unusable(*values: str) -> None:
    if any(not value or len(value) > MAX_ID_LENGTH for value in values):
        raise MalformedCallback("event ids must be 1 to 200 characters")
    refuse_control_characters(*values)
