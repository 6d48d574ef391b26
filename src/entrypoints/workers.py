"""Background workers: outbox relay, callback consumer, health checker.

``serve`` runs them beside the API; ``payments worker`` runs them alone (for
scaling the API and the workers separately). Several worker processes are
safe: the relay elects one leader, the consumer group splits partitions.
"""

from __future__ import annotations

import asyncio
import logging

from entrypoints.container import Container
from entrypoints.http.dependencies import resolve
from entrypoints.settings import Settings

log = logging.getLogger(__name__)


async def start_workers(container: Container, settings: Settings) -> list[asyncio.Task[None]]:
    tasks: list[asyncio.Task[None]] = []
    relay = await resolve(container.relay)
    tasks.append(asyncio.create_task(relay.run_forever(), name="outbox-relay"))
    consumer = await resolve(container.callback_consumer)
    if consumer is not None:
        tasks.append(asyncio.create_task(consumer.run_forever(), name="callback-consumer"))
    if settings.health_interval_s > 0:
        checker = await resolve(container.health_checker)
        tasks.append(asyncio.create_task(checker.run_forever(), name="health-checker"))
    return tasks


async def stop_workers(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
