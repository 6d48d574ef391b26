"""Upkeep of the webhook tables: the numbers operators alert on, and the purge.

The gauges are read from the database, not counted in the process that
sends: deliveries may run in a child process, in ``payments worker`` or in
several replicas, and every API process must show the same backlog. The
partial index on pending rows keeps these reads cheap.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg_pool import AsyncConnectionPool

from adapters.postgres.pool import run_on_pool

STATS = """
SELECT
    (SELECT count(*) FROM webhook_deliveries
      WHERE state = 'pending' AND due_at <= now()) AS due,
    (SELECT count(*) FROM webhook_deliveries
      WHERE state = 'pending' AND due_at > now()) AS retrying,
    (SELECT coalesce(extract(epoch FROM now() - min(due_at)), 0)::float8
       FROM webhook_deliveries WHERE state = 'pending' AND due_at <= now()) AS oldest_due_s,
    (SELECT count(*) FROM webhook_endpoints WHERE status = 'enabled') AS enabled,
    (SELECT count(*) FROM webhook_endpoints WHERE status = 'disabled') AS disabled,
    (SELECT count(*) FROM webhook_endpoints
      WHERE status = 'enabled' AND failing_since IS NOT NULL) AS failing
"""

# Finished attempts only: a pending row is a queued send and is never purged.
# In batches, so a first purge of a large table holds no long lock.
PURGE = """
DELETE FROM webhook_deliveries WHERE id IN (
    SELECT id FROM webhook_deliveries
    WHERE state <> 'pending'
      AND created_at < now() - make_interval(secs => %(older_than_s)s)
    LIMIT %(batch)s)
"""
PURGE_BATCH = 5000


@dataclass(frozen=True, slots=True)
class WebhookStats:
    due: int  # deliveries due now, not yet sent
    retrying: int  # failed attempts waiting for their next try
    oldest_due_s: float  # how long the oldest due delivery has waited
    enabled: int
    disabled: int
    failing: int  # enabled endpoints inside a failure streak


class PostgresWebhookUpkeep:
    def __init__(self, pool: AsyncConnectionPool, retention_days: float) -> None:
        self._pool = pool
        self._older_than_s = retention_days * 86400

    async def stats(self) -> WebhookStats:
        (row,) = await run_on_pool(self._pool, STATS, {})
        return WebhookStats(**row)

    async def purge_finished(self) -> int:
        """Delete finished attempts older than the retention; returns how many."""
        purged = 0
        async with self._pool.connection() as conn:
            while True:
                cur = await conn.execute(
                    PURGE, {"older_than_s": self._older_than_s, "batch": PURGE_BATCH}
                )
                await conn.commit()  # one short transaction per batch
                purged += cur.rowcount
                if cur.rowcount < PURGE_BATCH:
                    return purged
