"""Send the queued webhook deliveries: the worker's use case.

Each endpoint is served by one task at a time (its deliveries go one after
another, oldest due first) and endpoints are served side by side, so a slow
or dead endpoint only delays its own queue. Which worker process serves an
endpoint is decided by a lease in the database, so several processes share
the endpoints without sending to one of them twice at once. Nothing here
runs on the payment path: deliveries are fanned out from the outbox after the
payment committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from datetime import datetime

from application.ports import (
    ClaimedEndpoint,
    Clock,
    DeliveryOutcome,
    DueDelivery,
    WebhookQueue,
    WebhookSender,
)
from domain.webhooks import RetrySchedule

log = logging.getLogger(__name__)

BATCH = 10  # due deliveries read at once for one endpoint (still sent one by one)


class DeliverDueWebhooks:
    """One ``execute()`` is one pass: lease the free endpoints that have due
    deliveries and start serving each; call it every poll interval."""

    def __init__(
        self,
        queue: WebhookQueue,
        sender: WebhookSender,
        clock: Clock,
        schedule: RetrySchedule,
        *,
        timeout_s: float = 5.0,
        max_endpoints: int = 50,
        per_lease: int = 50,
    ) -> None:
        self._queue = queue
        self._sender = sender
        self._clock = clock
        self._schedule = schedule
        # Long enough for a few timed-out sends; renewed after each attempt.
        self._lease_s = max(30.0, 3 * timeout_s)
        self._max_endpoints = max_endpoints
        self._per_lease = per_lease
        self._running: dict[str, asyncio.Task[None]] = {}

    async def execute(self) -> int:
        """Start serving newly due endpoints; returns how many were leased."""
        self._running = {k: t for k, t in self._running.items() if not t.done()}
        room = self._max_endpoints - len(self._running)
        if room <= 0:
            return 0
        claimed = await self._queue.claim(room, self._lease_s, list(self._running))
        for endpoint in claimed:
            self._running[endpoint.id] = asyncio.create_task(
                self._serve(endpoint), name=f"webhook-endpoint-{endpoint.id}"
            )
        return len(claimed)

    async def drain(self) -> None:
        """Wait for the endpoints being served now (tests, shutdown)."""
        await asyncio.gather(*self._running.values(), return_exceptions=True)

    async def stop(self) -> None:
        """Cancel the sends in flight; their leases run out and another pass retries."""
        for task in self._running.values():
            task.cancel()
        await self.drain()
        self._running.clear()

    async def _serve(self, endpoint: ClaimedEndpoint) -> None:
        failing_since = endpoint.failing_since
        sent = 0
        try:
            while sent < self._per_lease:
                batch = await self._queue.next_due(endpoint.id, min(BATCH, self._per_lease - sent))
                if not batch:
                    break
                for due in batch:
                    outcome = await self._attempt(endpoint, due, failing_since)
                    await self._queue.record(outcome, self._lease_s)
                    sent += 1
                    failing_since = outcome.failing_since
                    if outcome.disable_endpoint:
                        log.warning("webhook endpoint %s disabled: failing too long", endpoint.id)
                        return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # database trouble: the lease runs out, a later pass retries
            log.warning("webhook endpoint %s: %s", endpoint.id, type(exc).__name__)
        finally:
            with contextlib.suppress(Exception):
                await self._queue.release(endpoint.id)

    async def _attempt(
        self, endpoint: ClaimedEndpoint, due: DueDelivery, failing_since: datetime | None
    ) -> DeliveryOutcome:
        body = json.dumps(due.event, separators=(",", ":"), ensure_ascii=False).encode()
        previous = endpoint.previous_at(self._clock.now())  # a roll's overlap: both sign
        result = await self._sender.send(
            endpoint.url, endpoint.secret, due.event_id, body, previous
        )
        now = self._clock.now()
        if result.delivered:
            return DeliveryOutcome(due.id, endpoint.id, result, now, None, None, False)
        streak = self._schedule.streak_start(failing_since, due.first_try_at)
        disable = self._schedule.exhausted(streak, now)
        # Queued even when the endpoint is disabled now: re-enabling resumes it.
        retry_at = self._schedule.next_retry(due.attempt, due.first_try_at, now)
        return DeliveryOutcome(due.id, endpoint.id, result, now, retry_at, streak, disable)
