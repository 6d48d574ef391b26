"""SessionRevocations over PostgreSQL: logged-out dashboard sessions, by nonce.

Every dashboard request asks ``is_revoked``: one primary-key probe on a table
that holds only the logouts of the last absolute session lifetime (rows are
purged at each logout). A revocation is permanent, so nonces found revoked are
remembered locally and a replayed logged-out cookie costs no query; a "not
revoked" answer is never cached, since another replica may log it out at any
moment.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime

import psycopg
from psycopg_pool import AsyncConnectionPool

from domain.errors import ServiceUnavailable

MAX_CACHED = 10_000  # known-revoked nonces remembered by this process

REVOKE = """
INSERT INTO dashboard_revocations (nonce, expires_at) VALUES (%(nonce)s, %(until)s)
ON CONFLICT (nonce) DO UPDATE
    SET expires_at = greatest(dashboard_revocations.expires_at, EXCLUDED.expires_at)
"""
PURGE = "DELETE FROM dashboard_revocations WHERE expires_at < now()"
LOOKUP = "SELECT 1 FROM dashboard_revocations WHERE nonce = %(nonce)s"


class PostgresSessionRevocations:
    def __init__(self, pool: AsyncConnectionPool, *, max_cached: int = MAX_CACHED) -> None:
        self._pool = pool
        self._max_cached = max_cached
        self._known: OrderedDict[str, None] = OrderedDict()

    async def revoke(self, nonce: str, until: datetime) -> None:
        try:
            async with self._pool.connection() as conn, conn.transaction():
                await conn.execute(REVOKE, {"nonce": nonce, "until": until})
                await conn.execute(PURGE)
        except psycopg.OperationalError as exc:
            raise ServiceUnavailable("the database is not reachable") from exc
        self._remember(nonce)

    async def is_revoked(self, nonce: str) -> bool:
        if nonce in self._known:
            return True
        try:
            async with self._pool.connection() as conn:
                row = await (await conn.execute(LOOKUP, {"nonce": nonce})).fetchone()
        except psycopg.OperationalError as exc:
            # Fail closed: the caller refuses the request rather than the logout.
            raise ServiceUnavailable("the database is not reachable") from exc
        if row is None:
            return False
        self._remember(nonce)
        return True

    def _remember(self, nonce: str) -> None:
        self._known[nonce] = None
        self._known.move_to_end(nonce)
        while len(self._known) > self._max_cached:
            self._known.popitem(last=False)  # an old one: a query if it ever comes back
