"""The webhook delivery worker: every poll interval, serve the endpoints that
have due deliveries (application/webhooks/deliver_due.py does the work).

Started with the other workers (entrypoints/workers.py); several worker
processes share the endpoints through leases in the database.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from application.ports import Clock, WebhookQueue, WebhookSender
from application.webhooks.deliver_due import DeliverDueWebhooks
from domain.webhooks import RetrySchedule
from entrypoints.settings import Settings

log = logging.getLogger(__name__)


def build_deliverer(
    settings: Settings, queue: WebhookQueue, sender: WebhookSender, clock: Clock
) -> DeliverDueWebhooks:
    """The delivery use case with the retry schedule and limits the settings name."""
    schedule = RetrySchedule(
        base_s=settings.webhook_retry_base_s,
        cap_s=settings.webhook_retry_cap_s,
        window=timedelta(hours=settings.webhook_retry_hours),
    )
    return DeliverDueWebhooks(
        queue,
        sender,
        clock,
        schedule,
        timeout_s=settings.webhook_timeout_s,
        max_endpoints=settings.webhook_max_endpoints,
    )


async def run_webhook_deliveries(deliver: DeliverDueWebhooks, poll_s: float) -> None:
    """Poll for due deliveries until cancelled; cancelling stops the sends in flight."""
    try:
        while True:
            try:
                await deliver.execute()
            except Exception as exc:  # database down: try again next round
                log.warning("webhook deliveries failed (%s)", type(exc).__name__)
            await asyncio.sleep(poll_s)
    finally:
        await deliver.stop()
