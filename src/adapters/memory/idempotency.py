"""In-memory IdempotencyStore for unit tests."""

from __future__ import annotations

import time
from dataclasses import dataclass

from application.ports import Claim, StoredResponse


@dataclass
class _Row:
    fingerprint: str
    expires_at: float
    response: StoredResponse | None = None


class MemoryIdempotencyStore:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], _Row] = {}

    async def claim(self, scope: str, key: str, fingerprint: str, ttl_s: int) -> Claim:
        row = self.rows.get((scope, key))
        if row is None or row.expires_at < time.time():
            self.rows[(scope, key)] = _Row(fingerprint, time.time() + ttl_s)
            return Claim("new")
        if row.fingerprint != fingerprint:
            return Claim("mismatch")
        if row.response is None:
            return Claim("in_flight")
        return Claim("replay", row.response)

    async def complete(self, scope: str, key: str, response: StoredResponse) -> None:
        row = self.rows.get((scope, key))
        if row is not None and row.response is None:
            row.response = response

    async def release(self, scope: str, key: str) -> None:
        row = self.rows.get((scope, key))
        if row is not None and row.response is None:
            del self.rows[(scope, key)]

    async def purge_expired(self) -> int:
        now = time.time()
        expired = [k for k, r in self.rows.items() if r.expires_at < now]
        for k in expired:
            del self.rows[k]
        return len(expired)
