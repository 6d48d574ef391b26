"""WebhookQueue over PostgreSQL: leases per endpoint, due deliveries, outcomes.

A worker leases an endpoint (``lease_until``) with FOR UPDATE SKIP LOCKED,
so concurrent worker processes pick different endpoints and never send to
one endpoint twice at once; a worker that dies leaves a lease that simply
runs out. The outbox row is the event's one copy: deliveries join it for the
body at send time.
"""

from __future__ import annotations

import builtins
from typing import Any

from psycopg_pool import AsyncConnectionPool

from adapters.crypto.keyring import Keyring
from adapters.postgres.pool import run_on_pool
from adapters.postgres.webhooks_endpoints import previous_secret, secret_aad
from application.ports import ClaimedEndpoint, DeliveryOutcome, DueDelivery

CLAIM = """
UPDATE webhook_endpoints SET lease_until = now() + make_interval(secs => %(lease_s)s)
WHERE id IN (
    SELECT e.id FROM webhook_endpoints e
    WHERE e.status = 'enabled'
      AND (e.lease_until IS NULL OR e.lease_until < now())
      AND NOT (e.id = ANY (%(busy)s::uuid[]))
      AND EXISTS (
          SELECT 1 FROM webhook_deliveries d
          WHERE d.endpoint_id = e.id AND d.state = 'pending' AND d.due_at <= now())
    ORDER BY e.lease_until NULLS FIRST
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED)
RETURNING id, url, secret_enc, failing_since, previous_secret_enc, previous_secret_expires_at
"""

NEXT_DUE = """
SELECT d.id, d.event_id, d.event_type, d.attempt, d.first_try_at, o.payload
FROM webhook_deliveries d JOIN outbox o ON o.event_id = d.event_id
WHERE d.endpoint_id = %(endpoint_id)s AND d.state = 'pending' AND d.due_at <= now()
ORDER BY d.due_at, d.id
LIMIT %(limit)s
"""

# One statement: the attempt's outcome, its successor (when one is due
# later), and the endpoint's failure streak, status and lease.
RECORD = """
WITH attempt AS (
    UPDATE webhook_deliveries SET
        state = CASE WHEN %(delivered)s THEN 'delivered'
                     WHEN %(next_retry_at)s::timestamptz IS NULL THEN 'abandoned'
                     ELSE 'failed' END,
        attempted_at = %(attempted_at)s,
        status_code = %(status_code)s,
        latency_ms = %(latency_ms)s,
        error = %(error)s,
        next_retry_at = %(next_retry_at)s,
        delivered_at = CASE WHEN %(delivered)s THEN %(attempted_at)s END
    WHERE id = %(id)s AND state = 'pending'
    RETURNING endpoint_id, event_id, event_type, attempt, first_try_at
), retry AS (
    INSERT INTO webhook_deliveries
        (endpoint_id, event_id, event_type, attempt, due_at, first_try_at)
    SELECT endpoint_id, event_id, event_type, attempt + 1, %(next_retry_at)s, first_try_at
    FROM attempt WHERE %(next_retry_at)s::timestamptz IS NOT NULL
)
UPDATE webhook_endpoints SET
    failing_since = %(failing_since)s,
    status = CASE WHEN %(disable)s THEN 'disabled' ELSE status END,
    updated_at = CASE WHEN %(disable)s THEN now() ELSE updated_at END,
    lease_until = now() + make_interval(secs => %(lease_s)s)
WHERE id = %(endpoint_id)s
"""


class PostgresWebhookQueue:
    def __init__(self, pool: AsyncConnectionPool, keyring: Keyring) -> None:
        self._pool = pool
        self._keyring = keyring

    async def _rows(self, query: str, params: dict[str, Any]) -> builtins.list[dict[str, Any]]:
        return await run_on_pool(self._pool, query, params)

    async def claim(
        self, limit: int, lease_s: float, busy: builtins.list[str]
    ) -> builtins.list[ClaimedEndpoint]:
        rows = await self._rows(CLAIM, {"limit": limit, "lease_s": lease_s, "busy": busy})
        return [
            ClaimedEndpoint(
                id=str(r["id"]),
                url=r["url"],
                secret=self._keyring.decrypt(r["secret_enc"], secret_aad(str(r["id"]))).decode(),
                failing_since=r["failing_since"],
                previous_secret=previous_secret(self._keyring, r),
                previous_secret_expires_at=r["previous_secret_expires_at"],
            )
            for r in rows
        ]

    async def next_due(self, endpoint_id: str, limit: int) -> builtins.list[DueDelivery]:
        rows = await self._rows(NEXT_DUE, {"endpoint_id": endpoint_id, "limit": limit})
        return [
            DueDelivery(
                id=r["id"],
                event_id=str(r["event_id"]),
                type=r["event_type"],
                attempt=r["attempt"],
                first_try_at=r["first_try_at"],
                event=r["payload"],
            )
            for r in rows
        ]

    async def record(self, outcome: DeliveryOutcome, lease_s: float) -> None:
        result = outcome.result
        await self._rows(
            RECORD,
            {
                "id": outcome.delivery_id,
                "endpoint_id": outcome.endpoint_id,
                "delivered": result.delivered,
                "attempted_at": outcome.attempted_at,
                "status_code": result.status_code,
                "latency_ms": result.latency_ms,
                "error": result.error,
                "next_retry_at": outcome.next_retry_at,
                "failing_since": outcome.failing_since,
                "disable": outcome.disable_endpoint,
                "lease_s": lease_s,
            },
        )

    async def release(self, endpoint_id: str) -> None:
        await self._rows(
            "UPDATE webhook_endpoints SET lease_until = NULL WHERE id = %(id)s",
            {"id": endpoint_id},
        )
