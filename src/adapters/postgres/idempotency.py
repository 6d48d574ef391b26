"""IdempotencyStore over PostgreSQL (short transactions of its own).

A claim is one statement for a new key. Taking over a key whose lease ran
out is a conditional UPDATE: of several retries arriving together, the row
lock lets exactly one see the lease expired; the others then see it live.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from application.ports import Claim, KeyClaim, StoredResponse
from domain.errors import ServiceUnavailable

CLAIM = """
INSERT INTO idempotency_keys
    (scope, key, fingerprint, expires_at, owner, lease_expires_at, transaction_id)
VALUES (%(scope)s, %(key)s, %(fingerprint)s, now() + make_interval(secs => %(ttl)s),
        %(owner)s, now() + make_interval(secs => %(lease)s), %(transaction_id)s)
ON CONFLICT (scope, key) DO UPDATE
    SET fingerprint = EXCLUDED.fingerprint, state = 'in_flight', response_status = NULL,
        response_type = NULL, response_body = NULL, created_at = now(),
        expires_at = EXCLUDED.expires_at, owner = EXCLUDED.owner,
        lease_expires_at = EXCLUDED.lease_expires_at,
        transaction_id = EXCLUDED.transaction_id
    WHERE idempotency_keys.expires_at < now()   -- an expired key may be reused
RETURNING true
"""

# Same request, and its holder's lease ran out: the holder is gone. The
# transaction id stays the one reserved first (kept if a key predates 0006).
TAKE_OVER = """
UPDATE idempotency_keys
SET owner = %(owner)s, lease_expires_at = now() + make_interval(secs => %(lease)s),
    transaction_id = coalesce(transaction_id, %(transaction_id)s)
WHERE scope = %(scope)s AND key = %(key)s AND state = 'in_flight'
  AND fingerprint = %(fingerprint)s AND coalesce(lease_expires_at, expires_at) < now()
RETURNING transaction_id
"""

EXISTING = """
SELECT fingerprint, state, response_status, response_type, response_body
FROM idempotency_keys WHERE scope = %(scope)s AND key = %(key)s
"""

# The statements below act only while the request (owner) still holds the key.
RENEW = """
UPDATE idempotency_keys SET lease_expires_at = now() + make_interval(secs => %(lease)s)
WHERE scope = %(scope)s AND key = %(key)s AND state = 'in_flight' AND owner = %(owner)s
"""

COMPLETE = """
UPDATE idempotency_keys
SET state = 'done', response_status = %(status)s, response_type = %(type)s,
    response_body = %(body)s
WHERE scope = %(scope)s AND key = %(key)s AND state = 'in_flight' AND owner = %(owner)s
"""

RELEASE = """
DELETE FROM idempotency_keys
WHERE scope = %(scope)s AND key = %(key)s AND state = 'in_flight' AND owner = %(owner)s
"""

ABANDON = """
UPDATE idempotency_keys SET lease_expires_at = now()
WHERE scope = %(scope)s AND key = %(key)s AND state = 'in_flight' AND owner = %(owner)s
"""

PURGE = "DELETE FROM idempotency_keys WHERE expires_at < now()"


class PostgresIdempotencyStore:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def claim(self, request: KeyClaim) -> Claim:
        params = {
            "scope": request.scope,
            "key": request.key,
            "fingerprint": request.fingerprint,
            "ttl": request.ttl_s,
            "owner": request.owner,
            "transaction_id": request.transaction_id,
            "lease": request.lease_s,
        }
        try:
            async with self._pool.connection() as conn, conn.transaction():
                if await (await conn.execute(CLAIM, params)).fetchone():
                    return Claim("new", transaction_id=request.transaction_id)
                taken = await (await conn.execute(TAKE_OVER, params)).fetchone()
                if taken:
                    return Claim("abandoned", transaction_id=str(taken[0]))
                row = await (await conn.execute(EXISTING, params)).fetchone()
        except psycopg.OperationalError as exc:
            raise ServiceUnavailable("the database is not reachable") from exc
        if row is None:  # released between our statements: the caller may retry
            return Claim("in_flight")
        stored_fingerprint, state, status, content_type, body = row
        if stored_fingerprint != request.fingerprint:
            return Claim("mismatch")
        if state != "done":
            return Claim("in_flight")
        return Claim("replay", StoredResponse(status, content_type, bytes(body)))

    async def renew(self, scope: str, key: str, owner: str, lease_s: float) -> bool:
        params = {"scope": scope, "key": key, "owner": owner, "lease": lease_s}
        return await self._execute(RENEW, params) > 0

    async def complete(self, scope: str, key: str, owner: str, response: StoredResponse) -> None:
        params = {
            "scope": scope,
            "key": key,
            "owner": owner,
            "status": response.status,
            "type": response.content_type,
            "body": response.body,
        }
        await self._execute(COMPLETE, params)

    async def release(self, scope: str, key: str, owner: str) -> None:
        await self._execute(RELEASE, {"scope": scope, "key": key, "owner": owner})

    async def abandon(self, scope: str, key: str, owner: str) -> None:
        await self._execute(ABANDON, {"scope": scope, "key": key, "owner": owner})

    async def purge_expired(self) -> int:
        return await self._execute(PURGE, {})

    async def _execute(self, statement: str, params: dict[str, Any]) -> int:
        try:
            async with self._pool.connection() as conn:
                cur = await conn.execute(statement, params)
                return cur.rowcount
        except psycopg.OperationalError as exc:
            raise ServiceUnavailable("the database is not reachable") from exc
