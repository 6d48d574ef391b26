"""Port for the platform's users."""

from __future__ import annotations

from typing import Protocol

from domain.user import User


class UserRepository(Protocol):
    """The platform's users and the country each belongs to."""

    async def get(self, user_id: int) -> User | None:
        """The user, or None."""

    async def upsert(self, user: User) -> bool:
        """Create or move the user; True when it was created."""
