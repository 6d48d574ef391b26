"""The outbox relay: publish committed outbox rows, then mark them published.

- One leader at a time: a session advisory lock on a dedicated connection.
  Other replicas wait; if the leader's connection dies, the lock is freed.
- Woken by NOTIFY (a trigger on outbox inserts) with a slow poll as fallback;
  after a wake it waits ``coalesce_s`` (25 ms) so the commits of that moment
  travel in one batch (callbacks are applied a batch at a time, so the wait
  costs each one 25 ms, not 25 ms per callback).
- Each batch is read with FOR UPDATE SKIP LOCKED, handed to the publisher in
  id order and marked published in the same database transaction: if
  publishing fails, nothing is marked and the batch goes again. Delivery is
  therefore at-least-once; consumers dedupe by event_id.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from adapters.cancellation import checkpoint
from adapters.observability import OUTBOX_PUBLISHED
from adapters.postgres.session import Session
from adapters.postgres.webhooks_fanout import FAN_OUT
from application.ports import MessagePublisher, OutboxMessage

log = logging.getLogger(__name__)

LOCK_KEY = 0x7061796D_72656C79  # "paymrely": one relay leader per database
CHANNEL = "payments_outbox"

SELECT_BATCH = """
SELECT id, event_id, topic, key, event_type, payload FROM outbox
WHERE published_at IS NULL
ORDER BY id
LIMIT %(limit)s
FOR UPDATE SKIP LOCKED
"""

MARK_PUBLISHED = "UPDATE outbox SET published_at = now() WHERE id = ANY(%(ids)s)"

BACKLOG = """
SELECT count(*), extract(epoch FROM now() - min(created_at))
FROM outbox WHERE published_at IS NULL
"""


class OutboxRelay:
    def __init__(
        self,
        pool: AsyncConnectionPool,
        database_url: str,
        publisher: MessagePublisher,
        *,
        batch_size: int = 500,
        poll_interval_s: float = 1.0,
        retry_delay_s: float = 1.0,
        coalesce_s: float = 0.025,
    ) -> None:
        self._pool = pool
        self._url = database_url
        self._publisher = publisher
        self._batch_size = batch_size
        self._poll_s = poll_interval_s
        self._retry_s = retry_delay_s
        self._coalesce_s = coalesce_s
        self.is_leader = False
        self.published = 0

    async def drain_once(self) -> int:
        """Publish one batch; returns how many rows it carried.

        Two round trips: BEGIN with the locking read, then the marks with
        COMMIT (see Session); nothing is marked if publishing raises.
        """
        async with self._pool.connection() as conn:
            await conn.set_autocommit(True)
            session = Session(conn)
            try:
                rows = await session.fetch(SELECT_BATCH, {"limit": self._batch_size}, lock=True)
                if not rows:
                    return 0
                await self._publisher.publish(
                    [
                        OutboxMessage(
                            event_id=str(row["event_id"]),
                            topic=row["topic"],
                            key=row["key"],
                            type=row["event_type"],
                            payload=row["payload"],
                        )
                        for row in rows
                    ]
                )
                ids = [row["id"] for row in rows]
                session.queue(MARK_PUBLISHED, {"ids": ids})
                # Webhook deliveries for the same events, in the same transaction.
                session.queue(FAN_OUT, {"ids": ids})
                await session.commit()
            finally:
                await session.rollback()  # a no-op after commit
                await conn.set_autocommit(False)
        self.published += len(rows)
        OUTBOX_PUBLISHED.inc(len(rows))
        return len(rows)

    async def drain(self) -> int:
        """Publish until nothing is left."""
        total = 0
        while n := await self.drain_once():
            total += n
        return total

    async def backlog(self) -> tuple[int, float]:
        """Unpublished rows and the age in seconds of the oldest one."""
        async with self._pool.connection() as conn, conn.cursor() as cur:
            await cur.execute(BACKLOG)
            row = await cur.fetchone()
        assert row is not None
        return int(row[0]), float(row[1] or 0.0)

    async def run_forever(self) -> None:
        while True:
            checkpoint()
            try:
                await self._lead()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # database or broker trouble: back off, retry
                log.warning("outbox relay stopped (%s); retrying", type(exc).__name__)
                self.is_leader = False
                await asyncio.sleep(self._retry_s)

    async def _lead(self) -> None:
        async with await psycopg.AsyncConnection.connect(self._url, autocommit=True) as listen:
            # Another process holds the lock: poll for it (no event to wait on).
            await self._wait_for_lock(listen)
            self.is_leader = True
            log.info("outbox relay is the leader")
            await listen.execute(f"LISTEN {CHANNEL}")
            while True:
                checkpoint()
                if await self.drain_once() >= self._batch_size:
                    continue  # more is waiting: no need to sleep
                woken = False
                async for _ in listen.notifies(timeout=self._poll_s, stop_after=1):
                    woken = True
                if woken and self._coalesce_s > 0:
                    # Let the commits of the next few milliseconds join this
                    # batch: one relay transaction (and one callback batch)
                    # for several deposits instead of one per NOTIFY.
                    await asyncio.sleep(self._coalesce_s)

    async def _wait_for_lock(self, conn: psycopg.AsyncConnection[Any]) -> None:
        while True:
            checkpoint()
            if await self._try_lock(conn):
                return
            await asyncio.sleep(self._poll_s)

    @staticmethod
    async def _try_lock(conn: psycopg.AsyncConnection[Any]) -> bool:
        cur = await conn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,))
        row = await cur.fetchone()
        return bool(row and row[0])
