"""Stripe webhook events: signed as the stripe SDK signs, read into our callbacks."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest
import stripe

from adapters.gateways.stripe_events import StripeEventVerifier
from domain.errors import InvalidSignature, MalformedCallback
from entrypoints.sandbox.family import SettledPayment
from entrypoints.sandbox.psp import PaymentOrder
from entrypoints.sandbox.stripe_objects import stripe_callback

SECRET = "whsec_unit_stripe"
INTENT: dict[str, Any] = {
    "id": "pi_3Ab",
    "object": "payment_intent",
    "amount": 1234,
    "currency": "gbp",
    "status": "succeeded",
    "metadata": {"transaction_id": "tx-1"},
    "latest_charge": "ch_1",  # fields we do not read are ignored
}


def event(kind: str, obj: dict[str, Any], event_id: str = "evt_1") -> bytes:
    return json.dumps(
        {"id": event_id, "object": "event", "type": kind, "data": {"object": obj}}
    ).encode()


def sdk_signed(body: bytes, secret: str = SECRET, at: int | None = None) -> dict[str, str]:
    """The Stripe-Signature header the stripe SDK generates for ``body``."""
    at = int(time.time()) if at is None else at
    header = stripe.WebhookSignature.generate_signature_header(body.decode(), secret, at)
    return {"stripe-signature": header}


VERIFIER = StripeEventVerifier("stripe", [SECRET])


def test_an_sdk_signed_succeeded_event_completes_the_named_payment_intent() -> None:
    body = event("payment_intent.succeeded", INTENT)
    headers = sdk_signed(body)
    # The SDK itself takes the event as genuine...
    assert stripe.Webhook.construct_event(body, headers["stripe-signature"], SECRET).id == "evt_1"

    [callback] = VERIFIER.verify(headers, body)

    assert (callback.event_id, callback.transaction_id, callback.status) == (
        "evt_1",
        "tx-1",
        "completed",
    )
    assert (callback.reference_id, callback.amount_minor, callback.currency) == (
        "pi_3Ab",
        1234,
        "GBP",
    )
    assert callback.mismatch is None


@pytest.mark.parametrize(
    ("kind", "obj", "status"),
    [
        (
            "payment_intent.payment_failed",
            {**INTENT, "status": "requires_payment_method"},
            "failed",
        ),
        ("payment_intent.canceled", {**INTENT, "status": "canceled"}, "failed"),
        ("refund.updated", {**INTENT, "id": "re_1", "object": "refund"}, "completed"),
        ("refund.created", {**INTENT, "id": "re_1", "object": "refund"}, "completed"),
        (
            "refund.failed",
            {**INTENT, "id": "re_1", "object": "refund", "status": "failed"},
            "failed",
        ),
        (
            "refund.updated",
            {**INTENT, "id": "re_1", "object": "refund", "status": "canceled"},
            "failed",
        ),
    ],
)
def test_failures_and_refund_events_map_onto_our_settlement(
    kind: str, obj: dict[str, Any], status: str
) -> None:
    body = event(kind, obj)

    [callback] = VERIFIER.verify(sdk_signed(body), body)

    assert (callback.status, callback.reference_id) == (status, obj["id"])


@pytest.mark.parametrize(
    ("kind", "obj"),
    [
        ("payment_intent.created", INTENT),  # not a final word
        ("refund.updated", {**INTENT, "object": "refund", "status": "pending"}),  # not yet
        ("payment_intent.succeeded", {**INTENT, "metadata": {}}),  # not one of ours
        ("customer.created", {"id": "cus_1", "object": "customer"}),
    ],
)
def test_events_that_settle_nothing_of_ours_are_acknowledged_and_ignored(
    kind: str, obj: dict[str, Any]
) -> None:
    body = event(kind, obj)

    assert VERIFIER.verify(sdk_signed(body), body) == []


def test_a_tampered_event_is_refused() -> None:
    body = event("payment_intent.succeeded", INTENT)
    headers = sdk_signed(body)
    tampered = body.replace(b"1234", b"9234")

    with pytest.raises(InvalidSignature):
        VERIFIER.verify(headers, tampered)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(tampered, headers["stripe-signature"], SECRET)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        sdk_signed(b"{}", secret="whsec_someone_else"),
        {"x-signature": "t=1,v1=00"},  # the json family's header is not Stripe's
    ],
)
def test_events_without_our_secrets_signature_are_refused(headers: dict[str, str]) -> None:
    body = event("payment_intent.succeeded", INTENT)
    if headers.get("stripe-signature"):
        headers = sdk_signed(body, secret="whsec_someone_else")

    with pytest.raises(InvalidSignature):
        VERIFIER.verify(headers, body)


def test_a_replayed_event_outside_the_tolerance_is_refused() -> None:
    body = event("payment_intent.succeeded", INTENT)

    with pytest.raises(InvalidSignature, match="tolerance"):
        VERIFIER.verify(sdk_signed(body, at=int(time.time()) - 3600), body)


def test_an_amount_no_payment_can_have_is_flagged_not_applied() -> None:
    body = event("payment_intent.succeeded", {**INTENT, "amount": 0})

    [callback] = VERIFIER.verify(sdk_signed(body), body)

    assert callback.amount_minor is None
    assert callback.mismatch is not None
    assert "0 gbp" in callback.mismatch


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        json.dumps({"id": "evt_1", "type": "payment_intent.succeeded"}).encode(),
        event("payment_intent.succeeded", {"id": "pi_1", "object": "payment_intent"}),
        event("payment_intent.succeeded", {**INTENT, "metadata": {"transaction_id": "tx\x00"}}),
    ],
)
def test_signed_but_malformed_events_are_refused(body: bytes) -> None:
    with pytest.raises(MalformedCallback):
        VERIFIER.verify(sdk_signed(body), body)


@pytest.mark.parametrize(
    ("kind", "status", "expected"),
    [
        ("deposit", "completed", "payment_intent.succeeded"),
        ("deposit", "failed", "payment_intent.payment_failed"),
        ("refund", "completed", "refund.updated"),
        ("refund", "failed", "refund.failed"),
    ],
)
def test_the_sandbox_sends_events_the_sdk_and_our_verifier_accept(
    kind: str, status: str, expected: str
) -> None:
    order = PaymentOrder("tx-1:1", "tx-1", kind, "12.34", "GBP", 2)
    payment = order.received("ST-0000000042", datetime.now(UTC))
    payment.status = status
    body, headers = stripe_callback(SettledPayment(payment, "evt_sbx", [SECRET], "unused"))

    sdk_event = stripe.Webhook.construct_event(body, headers["Stripe-Signature"], SECRET)
    [callback] = VERIFIER.verify({k.lower(): v for k, v in headers.items()}, body)

    assert sdk_event.type == expected
    prefix = "re_" if kind == "refund" else "pi_"
    assert (callback.reference_id, callback.status) == (f"{prefix}ST0000000042", status)
    assert (callback.transaction_id, callback.amount_minor, callback.currency) == (
        "tx-1",
        1234,
        "GBP",
    )
