"""IdempotencyStore over PostgreSQL (short transactions of its own)."""

from __future__ import annotations

import psycopg
from psycopg_pool import AsyncConnectionPool

from application.ports import Claim, StoredResponse
from domain.errors import ServiceUnavailable

CLAIM = """
INSERT INTO idempotency_keys (scope, key, fingerprint, expires_at)
VALUES (%(scope)s, %(key)s, %(fingerprint)s, now() + make_interval(secs => %(ttl)s))
ON CONFLICT (scope, key) DO UPDATE
    SET fingerprint = EXCLUDED.fingerprint, state = 'in_flight', response_status = NULL,
        response_type = NULL, response_body = NULL, created_at = now(),
        expires_at = EXCLUDED.expires_at
    WHERE idempotency_keys.expires_at < now()   -- an expired key may be reused
RETURNING true
"""

EXISTING = """
SELECT fingerprint, state, response_status, response_type, response_body
FROM idempotency_keys WHERE scope = %(scope)s AND key = %(key)s
"""

COMPLETE = """
UPDATE idempotency_keys
SET state = 'done', response_status = %(status)s, response_type = %(type)s,
    response_body = %(body)s
WHERE scope = %(scope)s AND key = %(key)s AND state = 'in_flight'
"""

RELEASE = (
    "DELETE FROM idempotency_keys WHERE scope = %(scope)s AND key = %(key)s AND state = 'in_flight'"
)

PURGE = "DELETE FROM idempotency_keys WHERE expires_at < now()"


class PostgresIdempotencyStore:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def claim(self, scope: str, key: str, fingerprint: str, ttl_s: int) -> Claim:
        params = {"scope": scope, "key": key, "fingerprint": fingerprint, "ttl": ttl_s}
        try:
            async with self._pool.connection() as conn, conn.transaction():
                won = await (await conn.execute(CLAIM, params)).fetchone()
                if won:
                    return Claim("new")
                row = await (await conn.execute(EXISTING, params)).fetchone()
        except psycopg.OperationalError as exc:
            raise ServiceUnavailable("the database is not reachable") from exc
        if row is None:  # released between our two statements: the caller may retry
            return Claim("in_flight")
        stored_fingerprint, state, status, content_type, body = row
        if stored_fingerprint != fingerprint:
            return Claim("mismatch")
        if state != "done":
            return Claim("in_flight")
        return Claim("replay", StoredResponse(status, content_type, bytes(body)))

    async def complete(self, scope: str, key: str, response: StoredResponse) -> None:
        async with self._pool.connection() as conn:
            await conn.execute(
                COMPLETE,
                {
                    "scope": scope,
                    "key": key,
                    "status": response.status,
                    "type": response.content_type,
                    "body": response.body,
                },
            )

    async def release(self, scope: str, key: str) -> None:
        async with self._pool.connection() as conn:
            await conn.execute(RELEASE, {"scope": scope, "key": key})

    async def purge_expired(self) -> int:
        async with self._pool.connection() as conn:
            cur = await conn.execute(PURGE)
            return cur.rowcount
