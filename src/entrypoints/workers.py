"""Background workers: outbox relay, callback consumer, callback retries,
webhook deliveries, health checker, reconciler and the idempotency-key purge.

``serve`` runs them beside the API; ``payments worker`` runs them alone (for
scaling the API and the workers separately). Several worker processes are
safe: the relay elects one leader, the consumer group splits partitions.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from adapters.cancellation import checkpoint
from adapters.observability import (
    OUTBOX_BACKLOG,
    OUTBOX_LAG,
    RECONCILIATION,
    RECONCILIATION_OPEN_ISSUES,
    WEBHOOK_DUE,
    WEBHOOK_ENDPOINTS,
    WEBHOOK_OLDEST_DUE,
    WEBHOOK_RETRYING,
)
from entrypoints.container import Container
from entrypoints.http.dependencies import resolve
from entrypoints.settings import Settings
from entrypoints.webhook_process import WebhookProcess
from entrypoints.webhook_worker import run_webhook_deliveries

log = logging.getLogger(__name__)


async def start_workers(container: Container, settings: Settings) -> list[asyncio.Task[None]]:
    tasks: list[asyncio.Task[None]] = []
    relay = await resolve(container.relay)
    tasks.append(asyncio.create_task(relay.run_forever(), name="outbox-relay"))
    consumer = await resolve(container.callback_consumer)
    if consumer is not None:
        tasks.append(asyncio.create_task(consumer.run_forever(), name="callback-consumer"))
    retry_callbacks = await resolve(container.retry_callbacks)
    tasks.append(asyncio.create_task(_every(1.0, retry_callbacks.execute), name="callback-retries"))
    if settings.reconcile_interval_s > 0:
        reconcile = await resolve(container.reconcile)

        async def reconcile_and_count() -> None:
            report = await reconcile.execute()
            for result in ("completed", "failed", "still_open", "flagged", "unreachable"):
                RECONCILIATION.labels(result).inc(getattr(report, result))

        tasks.append(
            asyncio.create_task(
                _every(settings.reconcile_interval_s, reconcile_and_count), name="reconciler"
            )
        )
    issues = await resolve(container.list_issues)
    webhook_upkeep = await resolve(container.webhook_upkeep)

    async def refresh_gauges() -> None:
        backlog, lag = await relay.backlog()
        OUTBOX_BACKLOG.set(backlog)
        OUTBOX_LAG.set(lag)
        RECONCILIATION_OPEN_ISSUES.set(len(await issues.execute(open_only=True, limit=10_000)))
        hooks = await webhook_upkeep.stats()
        WEBHOOK_DUE.set(hooks.due)
        WEBHOOK_RETRYING.set(hooks.retrying)
        WEBHOOK_OLDEST_DUE.set(hooks.oldest_due_s)
        for status in ("enabled", "disabled", "failing"):
            WEBHOOK_ENDPOINTS.labels(status).set(getattr(hooks, status))

    tasks.append(asyncio.create_task(_every(5, refresh_gauges), name="gauges"))
    store = await resolve(container.idempotency_store)
    tasks.append(asyncio.create_task(_every(600, store.purge_expired), name="idempotency-purge"))
    tasks.append(
        asyncio.create_task(_every(3600, webhook_upkeep.purge_finished), name="webhook-purge")
    )
    if settings.webhook_delivery == "process":  # off this event loop (webhook_process.py)
        deliveries = WebhookProcess(settings).run()
    else:
        deliveries = run_webhook_deliveries(
            await resolve(container.deliver_webhooks), settings.webhook_poll_s
        )
    tasks.append(asyncio.create_task(deliveries, name="webhook-deliveries"))
    if settings.health_interval_s > 0:
        checker = await resolve(container.health_checker)
        tasks.append(asyncio.create_task(checker.run_forever(), name="health-checker"))
    return tasks


async def stop_workers(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _every(seconds: float, job: Callable[[], Awaitable[object]]) -> None:
    """Run ``job`` now and then every ``seconds``, surviving its failures."""
    while True:
        checkpoint()
        try:
            await job()
        except Exception as exc:  # database down, etc.: try again next round
            log.warning("%s failed (%s)", getattr(job, "__qualname__", job), type(exc).__name__)
        await asyncio.sleep(seconds)
