"""Wire formats of the webhook endpoints API (msgspec Structs, edge only)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from application.ports import DeliveryRecord, WebhookEndpoint
from domain.webhooks import (
    DEFAULT_SECRET_OVERLAP_HOURS,
    EVENT_TYPES,
    MAX_DESCRIPTION,
    MAX_SECRET_OVERLAP_HOURS,
    MAX_URL_LENGTH,
)

Url = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=MAX_URL_LENGTH,
        description="http(s) URL, no user info; production refuses internal addresses",
        examples=["https://platform.example/payments-events"],
    ),
]
EventType = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Events = Annotated[
    list[EventType],
    msgspec.Meta(
        min_length=1,
        max_length=len(EVENT_TYPES),
        description=f'event types ({", ".join(EVENT_TYPES)}) or ["*"] for every one',
        examples=[["transaction.completed", "transaction.failed"]],
    ),
]
Description = Annotated[str, msgspec.Meta(max_length=MAX_DESCRIPTION, examples=["core ledger"])]


class WebhookEndpointBody(msgspec.Struct, forbid_unknown_fields=True):
    """Body of POST /webhook-endpoints."""

    url: Url
    events: Events
    description: Description = ""


class WebhookEndpointPatch(msgspec.Struct, forbid_unknown_fields=True):
    """Body of PATCH /webhook-endpoints/{id}: absent fields stay as they are."""

    url: Url | None = None
    events: Events | None = None
    description: Description | None = None
    status: Annotated[str, msgspec.Meta(examples=["enabled"])] | None = None


class RollSecretBody(msgspec.Struct, forbid_unknown_fields=True):
    """Body of POST /webhook-endpoints/{id}/secret (optional)."""

    expire_previous_in_hours: Annotated[
        int,
        msgspec.Meta(
            ge=0,
            le=MAX_SECRET_OVERLAP_HOURS,
            description="how long the replaced secret keeps signing too (0: drop it now)",
        ),
    ] = DEFAULT_SECRET_OVERLAP_HOURS


class WebhookEndpointOut(msgspec.Struct):
    id: str
    url: str
    events: list[str]
    description: str
    status: str
    created_at: datetime
    updated_at: datetime
    # When its current run of failed attempts began (null while it succeeds).
    failing_since: datetime | None
    # Until then deliveries are signed with the previous secret too (null: only the current).
    previous_secret_expires_at: datetime | None


class CreatedWebhookEndpointOut(WebhookEndpointOut):
    # The signing secret: shown in this answer only, never again.
    secret: str


class WebhookDeliveryOut(msgspec.Struct):
    id: int
    endpoint_id: str
    event_id: str
    type: str
    attempt: int
    state: str  # pending | delivered | failed (retried) | abandoned (window over)
    status_code: int | None  # null on a timeout or refused connection
    latency_ms: int | None
    error: str | None
    attempted_at: datetime | None
    next_retry_at: datetime | None
    delivered_at: datetime | None


def endpoint_out(e: WebhookEndpoint) -> WebhookEndpointOut:
    return WebhookEndpointOut(
        e.id,
        e.url,
        list(e.events),
        e.description,
        e.status,
        e.created_at,
        e.updated_at,
        e.failing_since,
        e.previous_secret_expires_at,
    )


def created_out(e: WebhookEndpoint, secret: str) -> CreatedWebhookEndpointOut:
    return CreatedWebhookEndpointOut(
        e.id,
        e.url,
        list(e.events),
        e.description,
        e.status,
        e.created_at,
        e.updated_at,
        e.failing_since,
        e.previous_secret_expires_at,
        secret,
    )


def delivery_out(d: DeliveryRecord) -> WebhookDeliveryOut:
    return WebhookDeliveryOut(
        d.id,
        d.endpoint_id,
        d.event_id,
        d.type,
        d.attempt,
        d.state,
        d.status_code,
        d.latency_ms,
        d.error,
        d.attempted_at,
        d.next_retry_at,
        d.delivered_at,
    )
