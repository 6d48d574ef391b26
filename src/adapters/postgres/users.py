"""UserRepository over PostgreSQL: who the users are and where they live."""

from __future__ import annotations

from adapters.postgres.session import Session
from domain.user import CountryCode, User

SELECT_USER = "SELECT id, country_code FROM users WHERE id = %(id)s"

# xmax is 0 only on a row version this statement inserted, not one it updated:
# the standard way to tell "created" from "moved" in a single round trip.
UPSERT_USER = """
INSERT INTO users (id, country_code) VALUES (%(id)s, %(country)s)
ON CONFLICT (id) DO UPDATE
SET country_code = EXCLUDED.country_code, updated_at = now()
RETURNING (xmax = 0) AS created
"""


class PostgresUserRepository:
    """UserRepository on the unit of work's session."""

    def __init__(self, session: Session) -> None:
        self._session = session

    async def get(self, user_id: int) -> User | None:
        """The user, or None."""
        rows = await self._session.fetch(SELECT_USER, {"id": user_id})
        if not rows:
            return None
        return User(id=rows[0]["id"], country=CountryCode(rows[0]["country_code"]))

    async def upsert(self, user: User) -> bool:
        """Create or move the user; True when it was created."""
        rows = await self._session.fetch(
            UPSERT_USER, {"id": user.id, "country": user.country.value}, lock=True
        )
        return bool(rows[0]["created"])
