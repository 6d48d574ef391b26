"""Ports for gateway callbacks: verifying them and the inbox that stores them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class GatewayCallback:
    """A gateway's verified statement about one of our transactions."""

    gateway_id: str
    event_id: str  # the gateway's id for this notification: our dedupe key
    transaction_id: str
    status: str  # completed | failed
    reference_id: str | None
    message: str
    amount_minor: int | None = None  # when the gateway states it
    currency: str | None = None
    # Set by the verifier when the callback cannot be about our payment (another
    # merchant account, an amount no payment can have): stored, flagged, never applied.
    mismatch: str | None = None


@dataclass(frozen=True, slots=True)
class InboxState:
    status: str  # received | applied | duplicate | flagged | quarantined
    apply_attempts: int  # applies that raised so far


@dataclass(frozen=True, slots=True)
class SettlementBacklog:
    unapplied: int  # callbacks received, not yet applied (retries included)
    oldest_s: float  # age of the oldest of them; 0 when none


class CallbackInbox(Protocol):
    """Every callback received, raw body encrypted, once per (gateway, event id)."""

    async def add(self, callback: GatewayCallback, raw_body: bytes) -> bool:
        """Store it; False when this (gateway, event id) was received before."""

    async def lock(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], InboxState]:
        """The state of each known (gateway, event id), locked until commit."""

    async def resolve(self, gateway_id: str, event_id: str, status: str, detail: str) -> None:
        """Record how the callback was dealt with (with the commit)."""

    async def record_failure(
        self, gateway_id: str, event_id: str, error: str, retry_at: datetime | None
    ) -> None:
        """Count a failed apply; retry at ``retry_at``, or quarantine it when None."""

    async def due_for_retry(self, now: datetime, limit: int) -> list[GatewayCallback]:
        """Callbacks whose apply failed and whose retry is due, oldest first."""

    async def backlog(self) -> SettlementBacklog:
        """How far settlement is behind."""


class CallbackVerifier(Protocol):
    """Checks one gateway family's signature and reads its callback format."""

    family: str  # json | soap: decides the acknowledgement the gateway expects

    def verify(self, headers: Mapping[str, str], body: bytes) -> list[GatewayCallback]:
        """The callbacks in the body; InvalidSignature or MalformedCallback otherwise."""


class CallbackVerifiers(Protocol):
    def get(self, gateway_id: str) -> CallbackVerifier | None:
        """The verifier for a gateway, or None when the gateway is unknown."""
