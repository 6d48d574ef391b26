"""WebhookEndpoints over PostgreSQL: the endpoints (secret encrypted) and their deliveries."""

from __future__ import annotations

import builtins
import uuid
from datetime import datetime
from typing import Any

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from adapters.crypto.keyring import Keyring
from adapters.postgres.pool import run_on_pool
from application.ports import DeliveryRecord, EndpointChanges, WebhookEndpoint

# An endpoint as operators see it: a previous secret's expiry only while it signs.
ENDPOINT_COLUMNS = """
    id, url, events, description, status, created_at, updated_at, failing_since,
    CASE WHEN previous_secret_expires_at > now() THEN previous_secret_expires_at END
        AS previous_secret_expires_at
"""
SELECT_ENDPOINTS = "SELECT" + ENDPOINT_COLUMNS + "FROM webhook_endpoints\n"
SELECT_DELIVERIES = """
SELECT id, endpoint_id, event_id, event_type, attempt, state, status_code,
    latency_ms, error, attempted_at, next_retry_at, delivered_at
FROM webhook_deliveries
"""

INSERT = """
INSERT INTO webhook_endpoints
    (id, url, events, description, status, secret_enc, created_at, updated_at)
VALUES (%(id)s, %(url)s, %(events)s, %(description)s, %(status)s, %(secret_enc)s,
        %(created_at)s, %(updated_at)s)
"""

# Re-enabling clears the failure streak, so one more failure does not disable it again.
UPDATE = (
    """
UPDATE webhook_endpoints SET
    url = coalesce(%(url)s, url),
    events = coalesce(%(events)s, events),
    description = coalesce(%(description)s, description),
    failing_since = CASE WHEN %(status)s::text = 'enabled' THEN NULL ELSE failing_since END,
    status = coalesce(%(status)s, status),
    updated_at = %(now)s
WHERE id = %(id)s
RETURNING """
    + ENDPOINT_COLUMNS
)

REQUEUE = """
INSERT INTO webhook_deliveries (endpoint_id, event_id, event_type, attempt, due_at, first_try_at)
SELECT d.endpoint_id, d.event_id, d.event_type,
       (SELECT max(attempt) + 1 FROM webhook_deliveries x
        WHERE x.endpoint_id = d.endpoint_id AND x.event_id = d.event_id),
       %(now)s, %(now)s
FROM webhook_deliveries d WHERE d.id = %(id)s
RETURNING id, endpoint_id, event_id, event_type, attempt, state, status_code,
    latency_ms, error, attempted_at, next_retry_at, delivered_at
"""


# The row is locked while its secret is replaced: a concurrent roll (or the
# key rotation's re-encryption) waits instead of overwriting it.
LOCK_ROW = "SELECT secret_enc FROM webhook_endpoints WHERE id = %(id)s FOR UPDATE"
ROLL = (
    """
UPDATE webhook_endpoints SET
    secret_enc = %(secret_enc)s,
    previous_secret_enc = %(previous_enc)s,
    previous_secret_expires_at = %(expires_at)s,
    updated_at = %(now)s
WHERE id = %(id)s
RETURNING """
    + ENDPOINT_COLUMNS
)


def secret_aad(endpoint_id: str) -> bytes:
    """Binds a secret's ciphertext to its endpoint row."""
    return f"webhook_endpoints.secret_enc:{endpoint_id}".encode()


def previous_secret_aad(endpoint_id: str) -> bytes:
    """Binds the previous secret's ciphertext to its row and column (never read as current)."""
    return f"webhook_endpoints.previous_secret_enc:{endpoint_id}".encode()


def previous_secret(keyring: Keyring, row: dict[str, Any]) -> str | None:
    """The row's previous secret in clear (``id`` and ``previous_secret_enc``), if any."""
    token = row["previous_secret_enc"]
    if token is None:
        return None
    return keyring.decrypt(token, previous_secret_aad(str(row["id"]))).decode()


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def endpoint_of(row: dict[str, Any]) -> WebhookEndpoint:
    return WebhookEndpoint(
        id=str(row["id"]),
        url=row["url"],
        events=tuple(row["events"]),
        description=row["description"],
        status=row["status"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        failing_since=row["failing_since"],
        previous_secret_expires_at=row["previous_secret_expires_at"],
    )


def delivery_of(row: dict[str, Any]) -> DeliveryRecord:
    return DeliveryRecord(
        id=row["id"],
        endpoint_id=str(row["endpoint_id"]),
        event_id=str(row["event_id"]),
        type=row["event_type"],
        attempt=row["attempt"],
        state=row["state"],
        status_code=row["status_code"],
        latency_ms=row["latency_ms"],
        error=row["error"],
        attempted_at=row["attempted_at"],
        next_retry_at=row["next_retry_at"],
        delivered_at=row["delivered_at"],
    )


class PostgresWebhookEndpoints:
    """Each call is one short statement on a pooled connection (autocommit)."""

    def __init__(self, pool: AsyncConnectionPool, keyring: Keyring) -> None:
        self._pool = pool
        self._keyring = keyring

    async def _rows(self, query: str, params: dict[str, Any]) -> builtins.list[dict[str, Any]]:
        return await run_on_pool(self._pool, query, params)

    async def create(self, endpoint: WebhookEndpoint, secret: str) -> None:
        await self._rows(
            INSERT,
            {
                "id": endpoint.id,
                "url": endpoint.url,
                "events": list(endpoint.events),
                "description": endpoint.description,
                "status": endpoint.status,
                "secret_enc": self._keyring.encrypt(secret.encode(), secret_aad(endpoint.id)),
                "created_at": endpoint.created_at,
                "updated_at": endpoint.updated_at,
            },
        )

    async def list(self) -> builtins.list[WebhookEndpoint]:
        rows = await self._rows(SELECT_ENDPOINTS + "ORDER BY created_at, id", {})
        return [endpoint_of(r) for r in rows]

    async def get(self, endpoint_id: str) -> WebhookEndpoint | None:
        if (key := _uuid(endpoint_id)) is None:
            return None
        rows = await self._rows(SELECT_ENDPOINTS + "WHERE id = %(id)s", {"id": key})
        return endpoint_of(rows[0]) if rows else None

    async def update(
        self, endpoint_id: str, changes: EndpointChanges, now: datetime
    ) -> WebhookEndpoint | None:
        if (key := _uuid(endpoint_id)) is None:
            return None
        rows = await self._rows(
            UPDATE,
            {
                "id": key,
                "url": changes.url,
                "events": None if changes.events is None else list(changes.events),
                "description": changes.description,
                "status": changes.status,
                "now": now,
            },
        )
        return endpoint_of(rows[0]) if rows else None

    async def delete(self, endpoint_id: str) -> bool:
        if (key := _uuid(endpoint_id)) is None:
            return False
        rows = await self._rows(
            "DELETE FROM webhook_endpoints WHERE id = %(id)s RETURNING id", {"id": key}
        )
        return bool(rows)

    async def deliveries(self, endpoint_id: str, limit: int) -> builtins.list[DeliveryRecord]:
        if (key := _uuid(endpoint_id)) is None:
            return []
        rows = await self._rows(
            SELECT_DELIVERIES + "WHERE endpoint_id = %(id)s ORDER BY id DESC LIMIT %(limit)s",
            {"id": key, "limit": limit},
        )
        return [delivery_of(r) for r in rows]

    async def get_delivery(self, delivery_id: int) -> DeliveryRecord | None:
        rows = await self._rows(
            SELECT_DELIVERIES + "WHERE id = %(id)s",
            {"id": delivery_id},
        )
        return delivery_of(rows[0]) if rows else None

    async def requeue(self, delivery_id: int, now: datetime) -> DeliveryRecord | None:
        rows = await self._rows(REQUEUE, {"id": delivery_id, "now": now})
        return delivery_of(rows[0]) if rows else None

    async def roll_secret(
        self, endpoint_id: str, secret: str, previous_expires_at: datetime | None, now: datetime
    ) -> WebhookEndpoint | None:
        if (key := _uuid(endpoint_id)) is None:
            return None
        id_ = str(key)
        async with self._pool.connection() as conn, conn.transaction():
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(LOCK_ROW, {"id": key})
            current = await cur.fetchone()
            if current is None:
                return None
            previous_enc = None
            if previous_expires_at is not None:
                plain = self._keyring.decrypt(current["secret_enc"], secret_aad(id_))
                previous_enc = self._keyring.encrypt(plain, previous_secret_aad(id_))
            await cur.execute(
                ROLL,
                {
                    "id": key,
                    "secret_enc": self._keyring.encrypt(secret.encode(), secret_aad(id_)),
                    "previous_enc": previous_enc,
                    "expires_at": previous_expires_at,
                    "now": now,
                },
            )
            row = await cur.fetchone()
        return None if row is None else endpoint_of(row)
