"""UserRepository over PostgreSQL: who the users are and where they live."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

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
    """UserRepository on the unit of work's connection."""

    def __init__(self, conn: AsyncConnection[Any]) -> None:
        self._conn = conn

    async def get(self, user_id: int) -> User | None:
        """The user, or None."""
        async with self._conn.cursor() as cur:
            await cur.execute(SELECT_USER, {"id": user_id})
            row = await cur.fetchone()
        if row is None:
            return None
        return User(id=row[0], country=CountryCode(row[1]))

    async def upsert(self, user: User) -> bool:
        """Create or move the user; True when it was created."""
        async with self._conn.cursor() as cur:
            await cur.execute(UPSERT_USER, {"id": user.id, "country": user.country.value})
            row = await cur.fetchone()
        assert row is not None  # INSERT ... RETURNING always yields the row
        return bool(row[0])
