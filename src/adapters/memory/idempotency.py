"""In-memory IdempotencyStore for unit tests (same rules as the PostgreSQL one)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from application.ports import Claim, KeyClaim, StoredResponse


@dataclass
class _Row:
    fingerprint: str
    expires_at: float
    owner: str
    lease_expires_at: float
    transaction_id: str
    response: StoredResponse | None = None


class MemoryIdempotencyStore:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], _Row] = {}

    async def claim(self, request: KeyClaim) -> Claim:
        scope, key, fingerprint = request.scope, request.key, request.fingerprint
        owner, transaction_id = request.owner, request.transaction_id
        ttl_s, lease_s = request.ttl_s, request.lease_s
        now = time.time()
        row = self.rows.get((scope, key))
        if row is None or row.expires_at < now:
            self.rows[(scope, key)] = _Row(
                fingerprint, now + ttl_s, owner, now + lease_s, transaction_id
            )
            return Claim("new", transaction_id=transaction_id)
        if row.fingerprint != fingerprint:
            return Claim("mismatch")
        if row.response is not None:
            return Claim("replay", row.response)
        if row.lease_expires_at >= now:
            return Claim("in_flight")
        row.owner, row.lease_expires_at = owner, now + lease_s
        return Claim("abandoned", transaction_id=row.transaction_id)

    def _held(self, scope: str, key: str, owner: str) -> _Row | None:
        row = self.rows.get((scope, key))
        if row is None or row.response is not None or row.owner != owner:
            return None
        return row

    async def renew(self, scope: str, key: str, owner: str, lease_s: float) -> bool:
        row = self._held(scope, key, owner)
        if row is not None:
            row.lease_expires_at = time.time() + lease_s
        return row is not None

    async def complete(self, scope: str, key: str, owner: str, response: StoredResponse) -> None:
        row = self._held(scope, key, owner)
        if row is not None:
            row.response = response

    async def release(self, scope: str, key: str, owner: str) -> None:
        if self._held(scope, key, owner) is not None:
            del self.rows[(scope, key)]

    async def abandon(self, scope: str, key: str, owner: str) -> None:
        row = self._held(scope, key, owner)
        if row is not None:
            row.lease_expires_at = time.time() - 1

    async def purge_expired(self) -> int:
        now = time.time()
        expired = [k for k, r in self.rows.items() if r.expires_at < now]
        for k in expired:
            del self.rows[k]
        return len(expired)
