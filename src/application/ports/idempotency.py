"""Port for idempotency keys, each leased to one request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status: int
    content_type: str
    body: bytes


@dataclass(frozen=True, slots=True)
class Claim:
    """``new``: ours, run the request. ``abandoned``: ours now, but a request that
    lost its lease held it before: its transaction (``transaction_id``) may exist."""

    outcome: Literal["new", "abandoned", "replay", "in_flight", "mismatch"]
    response: StoredResponse | None = None
    transaction_id: str | None = None  # new/abandoned: the id the key's transaction gets


@dataclass(frozen=True, slots=True)
class KeyClaim:
    """A request asking for an idempotency key: who, for which body, for how long."""

    scope: str  # the API key's digest: keys are per client
    key: str
    fingerprint: str  # method, path and body: the same key with another body is a misuse
    ttl_s: int  # how long the key and its answer are kept
    owner: str  # this request; only it may complete, renew, release or abandon the key
    transaction_id: str  # reserved for the transaction, if the key is new
    lease_s: float  # how long the key stays this request's without a renewal


class IdempotencyStore(Protocol):
    """Durable, cross-process store of idempotency keys, each leased to one request."""

    async def claim(self, request: KeyClaim) -> Claim:
        """Take the key for the request's owner (reserving its transaction id on a
        new key), or report what holds it; a key whose lease ran out is taken over."""

    async def renew(self, scope: str, key: str, owner: str, lease_s: float) -> bool:
        """Extend ``owner``'s lease; False when the key is no longer its own."""

    async def complete(self, scope: str, key: str, owner: str, response: StoredResponse) -> None:
        """Store the final response for replays (only while ``owner`` holds the key)."""

    async def release(self, scope: str, key: str, owner: str) -> None:
        """Forget an in-flight key (no transaction was created under it)."""

    async def abandon(self, scope: str, key: str, owner: str) -> None:
        """End ``owner``'s lease now, keeping the key: its transaction may exist."""

    async def purge_expired(self) -> int:
        """Delete keys past their expiry; returns how many."""
