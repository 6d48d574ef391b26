"""Port for logged-out operator sessions."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class SessionRevocations(Protocol):
    """Logged-out operator sessions, shared by every process and replica, durable."""

    async def revoke(self, nonce: str, until: datetime) -> None:
        """Refuse the session ``nonce`` from now on; forgotten after ``until``
        (when it would have expired anyway). Also purges what has expired."""

    async def is_revoked(self, nonce: str) -> bool:
        """Whether the session was logged out (asked on every dashboard request)."""
