"""The messages we publish: topics and envelopes shared by every transport.

Every message carries ``event_id``, ``type``, ``transaction_id``,
``occurred_at`` and ``data`` (lifecycle events also ``version``), so a
consumer can drop duplicates and stale versions whatever the delivery path.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from application.ports import GatewayCallback
from domain.transaction import TransactionEvent

TRANSACTIONS_TOPIC = "payments.transactions.v1"
CALLBACKS_TOPIC = "payments.callbacks.v1"
CALLBACK_EVENT = "callback.verified"


def envelope(event_id: uuid.UUID, event: TransactionEvent) -> dict[str, Any]:
    """The message consumers receive; ``event_id`` and ``version`` let them dedupe."""
    return {
        "event_id": str(event_id),
        "type": event.type,
        "transaction_id": event.transaction_id,
        "version": event.version,
        "occurred_at": event.occurred_at.isoformat(),
        "data": event.data,
    }


def callback_envelope(event_id: uuid.UUID, callback: GatewayCallback) -> dict[str, Any]:
    """The message on payments.callbacks.v1 (parsed fields only, never the raw body)."""
    return {
        "event_id": str(event_id),
        "type": CALLBACK_EVENT,
        "transaction_id": callback.transaction_id,
        "occurred_at": datetime.now(UTC).isoformat(),
        "data": {
            "gateway_id": callback.gateway_id,
            "callback_event_id": callback.event_id,
            "status": callback.status,
            "reference_id": callback.reference_id,
            "message": callback.message,
            "amount_minor": callback.amount_minor,
            "currency": callback.currency,
        },
    }


def callback_from_envelope(payload: dict[str, Any]) -> GatewayCallback:
    """Inverse of ``callback_envelope``; KeyError/TypeError on a foreign message."""
    data = payload["data"]
    return GatewayCallback(
        gateway_id=str(data["gateway_id"]),
        event_id=str(data["callback_event_id"]),
        transaction_id=str(payload["transaction_id"]),
        status=str(data["status"]),
        reference_id=data.get("reference_id"),
        message=str(data.get("message") or ""),
        amount_minor=data.get("amount_minor"),
        currency=data.get("currency"),
    )
