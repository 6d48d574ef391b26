"""Ports for outgoing webhooks: the endpoints platforms register, the queue of
deliveries fanned out from the outbox, the HTTP sender and the URL guard."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class WebhookEndpoint:
    id: str
    url: str
    events: tuple[str, ...]
    description: str
    status: str  # enabled | disabled
    created_at: datetime
    updated_at: datetime
    failing_since: datetime | None = None
    # Until then the secret before the last roll signs too (None: only the current one).
    previous_secret_expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class EndpointChanges:
    """A PATCH: None leaves the field as it is."""

    url: str | None = None
    events: tuple[str, ...] | None = None
    description: str | None = None
    status: str | None = None


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """One delivery attempt, as operators see it."""

    id: int
    endpoint_id: str
    event_id: str
    type: str
    attempt: int
    state: str  # pending | delivered | failed | abandoned
    status_code: int | None
    latency_ms: int | None
    error: str | None
    attempted_at: datetime | None
    next_retry_at: datetime | None
    delivered_at: datetime | None


@dataclass(frozen=True, slots=True)
class ClaimedEndpoint:
    """An endpoint this worker holds the lease of: only it sends to it now."""

    id: str
    url: str
    secret: str
    failing_since: datetime | None
    # The secret before the last roll, signing alongside until it expires.
    previous_secret: str | None = None
    previous_secret_expires_at: datetime | None = None

    def previous_at(self, now: datetime) -> str | None:
        """The previous secret if it still signs at ``now``."""
        expires = self.previous_secret_expires_at
        return self.previous_secret if expires is not None and now < expires else None


@dataclass(frozen=True, slots=True)
class DueDelivery:
    id: int
    event_id: str
    type: str
    attempt: int
    first_try_at: datetime  # the retry window of this event at this endpoint starts here
    event: dict[str, Any]  # the outbox envelope: event_id, type, transaction_id, version, ...


@dataclass(frozen=True, slots=True)
class SendResult:
    status_code: int | None  # None: timeout, refused, reset
    latency_ms: int
    error: str | None = None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    """What one attempt came to, written at once (row, next try, endpoint health)."""

    delivery_id: int
    endpoint_id: str
    result: SendResult
    attempted_at: datetime
    next_retry_at: datetime | None  # None after a success or when the window is over
    failing_since: datetime | None  # the endpoint's failure streak after this attempt
    disable_endpoint: bool


class WebhookEndpoints(Protocol):
    """The registered endpoints and their deliveries (operator side)."""

    async def create(self, endpoint: WebhookEndpoint, secret: str) -> None:
        """Store a new endpoint; the secret is kept encrypted."""

    async def list(self) -> builtins.list[WebhookEndpoint]:
        """Every endpoint, oldest first."""

    async def get(self, endpoint_id: str) -> WebhookEndpoint | None:
        """One endpoint, or None."""

    async def update(
        self, endpoint_id: str, changes: EndpointChanges, now: datetime
    ) -> WebhookEndpoint | None:
        """Apply a PATCH; re-enabling clears the failure streak. None if unknown."""

    async def delete(self, endpoint_id: str) -> bool:
        """Remove the endpoint and its queue; False if unknown."""

    async def deliveries(self, endpoint_id: str, limit: int) -> builtins.list[DeliveryRecord]:
        """Its delivery attempts, newest first."""

    async def get_delivery(self, delivery_id: int) -> DeliveryRecord | None:
        """One delivery attempt, or None."""

    async def requeue(self, delivery_id: int, now: datetime) -> DeliveryRecord | None:
        """Queue that event for that endpoint again, due now, with a fresh retry window."""

    async def roll_secret(
        self, endpoint_id: str, secret: str, previous_expires_at: datetime | None, now: datetime
    ) -> WebhookEndpoint | None:
        """Make ``secret`` the signing secret; the one it replaces keeps signing until
        ``previous_expires_at`` (None: dropped at once), any older one is dropped.
        None if unknown."""


class WebhookQueue(Protocol):
    """The delivery queue, shared by every worker process."""

    async def claim(
        self, limit: int, lease_s: float, busy: builtins.list[str]
    ) -> builtins.list[ClaimedEndpoint]:
        """Lease up to ``limit`` enabled endpoints with due deliveries (not ``busy``)."""

    async def next_due(self, endpoint_id: str, limit: int) -> builtins.list[DueDelivery]:
        """The endpoint's oldest due deliveries, in the order to send them."""

    async def record(self, outcome: DeliveryOutcome, lease_s: float) -> None:
        """Write an attempt's outcome, queue its next try, renew the lease."""

    async def release(self, endpoint_id: str) -> None:
        """Give the endpoint's lease back."""


class WebhookSender(Protocol):
    """POSTs a signed event to a URL."""

    async def send(
        self, url: str, secret: str, event_id: str, body: bytes, previous: str | None = None
    ) -> SendResult:
        """One attempt, signed with ``secret`` (and ``previous`` too, during a roll's
        overlap); never raises for network trouble (status_code None instead)."""


class WebhookTargets(Protocol):
    """Which hosts a webhook may point at (production refuses internal addresses)."""

    async def check(self, url: str) -> str | None:
        """Raise InvalidInput when the URL's host is not an allowed target.

        Otherwise return the IP address it validated, which a send must connect
        to (not the name again: a second lookup may answer an internal address),
        or None when every address is allowed and nothing needs pinning.
        """
