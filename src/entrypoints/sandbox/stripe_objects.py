"""The sandbox's Stripe emulation, its data: ids, objects, requests and events.

A sandbox payment is shown as Stripe would show it: a deposit as a
PaymentIntent (``pi_…``), a refund as a Refund (``re_…``), amounts in minor
units and lowercase currencies, our ids in ``metadata``. Ids are derived
from the sandbox's own PSP reference (``ST-0000000001`` → ``pi_ST0000000001``),
so every worker of a shared sandbox names a payment alike.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from typing import Any
from urllib.parse import parse_qsl

from adapters.gateways.signing_json import sign_json
from adapters.gateways.stripe_events import SIGNATURE_HEADER
from domain.errors import InvalidInput
from domain.money import Money
from entrypoints.sandbox.family import SettledPayment
from entrypoints.sandbox.psp import PspGateway, SandboxPayment

API_VERSION = "2024-06-20"
# What our adapter may send; Stripe (and stripe-mock) refuse unknown parameters too.
CREATE_PARAMS = {"amount", "currency", "automatic_payment_methods[enabled]"}
REFUND_PARAMS = {"amount", "payment_intent"}
_METADATA = re.compile(r"metadata\[([A-Za-z0-9_]{1,40})\]")
_AMOUNT = re.compile(r"[1-9][0-9]{0,15}")
_CURRENCY = re.compile(r"[a-z]{3}")
# Sandbox statuses as Stripe names them, per object.
_INTENT_STATUS = {"processing": "requires_payment_method", "completed": "succeeded"}
_REFUND_STATUS = {"processing": "pending", "completed": "succeeded", "failed": "failed"}


class BadRequest(Exception):
    """A request Stripe would refuse with ``invalid_request_error``."""


def stripe_id(payment: SandboxPayment) -> str:
    prefix = "re" if payment.type == "refund" else "pi"
    return f"{prefix}_{payment.psp_id.replace('-', '')}"


def find_by_id(gw: PspGateway, object_id: str) -> SandboxPayment | None:
    return next((p for p in gw.ledger() if stripe_id(p) == object_id), None)


def read_form(body: bytes, allowed: set[str]) -> tuple[dict[str, str], dict[str, str]]:
    """The parameters and the metadata of a form-encoded request; BadRequest otherwise."""
    try:
        pairs = parse_qsl(body.decode("ascii"), keep_blank_values=True, strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("the body is not form-encoded") from None
    params: dict[str, str] = {}
    metadata: dict[str, str] = {}
    for key, value in pairs:
        meta = _METADATA.fullmatch(key)
        target, name = (metadata, meta.group(1)) if meta else (params, key)
        if not meta and key not in allowed:
            raise BadRequest(f"Received unknown parameter: {key}")
        if name in target:
            raise BadRequest(f"Received the parameter {key} twice")
        target[name] = value
    return params, metadata


def money_of(amount: str | None, currency: str | None) -> Money:
    """A request's amount (minor units) and lowercase currency as Money; BadRequest otherwise."""
    if amount is None or not _AMOUNT.fullmatch(amount):
        raise BadRequest("amount must be a positive integer of minor units")
    if currency is None or not _CURRENCY.fullmatch(currency):
        raise BadRequest("currency must be a lowercase ISO code")
    try:
        return Money.of_minor(int(amount), currency.upper())
    except InvalidInput as exc:
        raise BadRequest(exc.detail) from None


def view(payment: SandboxPayment) -> dict[str, Any]:
    """The payment as Stripe's PaymentIntent or Refund object."""
    object_id = stripe_id(payment)
    common: dict[str, Any] = {
        "id": object_id,
        "amount": Money.parse(payment.amount, payment.currency).minor,
        "currency": payment.currency.lower(),
        "created": int(payment.created_at.timestamp()),
        "metadata": {
            "transaction_id": payment.transaction_id,
            "reference": payment.reference,
            "user_id": str(payment.user_id),
        },
    }
    if payment.type == "refund":
        return {**common, "object": "refund", "status": _REFUND_STATUS[payment.status]}
    secret = hashlib.sha256(f"{object_id}:{payment.reference}".encode()).hexdigest()[:24]
    return {
        **common,
        "object": "payment_intent",
        "status": _INTENT_STATUS.get(payment.status, "canceled"),
        "client_secret": f"{object_id}_secret_{secret}",
        "livemode": False,
        "next_action": None,
    }


def error(kind: str, message: str, code: str | None = None, **more: str) -> dict[str, Any]:
    """A Stripe error object."""
    fields = {"type": kind, "message": message, **more}
    if code is not None:
        fields["code"] = code
    return {"error": fields}


def stripe_callback(settled: SettledPayment) -> tuple[bytes, dict[str, str]]:
    """The Stripe event for a settled payment, signed like Stripe signs (Stripe-Signature)."""
    payment = settled.payment
    ok = payment.status == "completed"
    if payment.type == "refund":
        event_type = "refund.updated" if ok else "refund.failed"
    else:
        event_type = "payment_intent.succeeded" if ok else "payment_intent.payment_failed"
    now = int(time.time())
    event = {
        "id": settled.event_id,
        "object": "event",
        "api_version": API_VERSION,
        "created": now,
        "livemode": False,
        "pending_webhooks": 1,
        "type": event_type,
        "data": {"object": view(payment)},
    }
    body = json.dumps(event).encode()
    # Signed afresh on every delivery, as Stripe does: the timestamp is the send time.
    headers = {"Content-Type": "application/json; charset=utf-8"}
    headers[SIGNATURE_HEADER] = sign_json(body, settled.secrets, now)
    return body, headers
