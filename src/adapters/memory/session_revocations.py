"""In-memory SessionRevocations for unit tests (one process, lost at exit)."""

from __future__ import annotations

from datetime import UTC, datetime


class MemorySessionRevocations:
    def __init__(self) -> None:
        self.revoked: dict[str, datetime] = {}  # nonce -> when it would have expired anyway

    async def revoke(self, nonce: str, until: datetime) -> None:
        self.revoked[nonce] = max(until, self.revoked.get(nonce, until))
        now = datetime.now(UTC)
        for expired in [n for n, end in self.revoked.items() if end < now]:
            del self.revoked[expired]  # as the database's purge does

    async def is_revoked(self, nonce: str) -> bool:
        return nonce in self.revoked
