"""Consume verified callbacks from Kafka and apply them in batches; commit offsets after.

Each poll's records (up to ``max_records`` across partitions) are applied
as one batch (one database transaction, see ApplyCallbacks). Offsets are
committed only once the batch is dealt with, so a crash between the two
redelivers it, and the inbox makes the second application a no-op. A
callback that cannot be applied does not hold the partition: ApplyCallbacks
records it for a later retry (or quarantines it) and the consumer commits
past it. Only a database outage makes the consumer wait and retry the same
batch rather than skip ahead.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord

from adapters.cancellation import checkpoint
from adapters.messages import CALLBACKS_TOPIC, callback_from_envelope
from adapters.observability import callback_applied
from application.ports import GatewayCallback

log = logging.getLogger(__name__)

Handler = Callable[[Sequence[GatewayCallback]], Awaitable[list[str]]]


class CallbackConsumer:
    def __init__(
        self,
        bootstrap_servers: str,
        handler: Handler,
        *,
        group_id: str = "payments-callbacks",
        topic_prefix: str = "",
        retry_delay_s: float = 1.0,
        max_records: int = 200,
    ) -> None:
        self._bootstrap = bootstrap_servers
        self._handler = handler
        self._group_id = group_id
        self._topic = topic_prefix + CALLBACKS_TOPIC
        self._retry_s = retry_delay_s
        self._max_records = max_records
        self.applied = 0

    async def run_forever(self) -> None:
        while True:
            checkpoint()
            consumer = AIOKafkaConsumer(
                self._topic,
                bootstrap_servers=self._bootstrap,
                group_id=self._group_id,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
            )
            try:
                await consumer.start()
                await self._consume(consumer)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("callback consumer stopped (%s); retrying", type(exc).__name__)
                await asyncio.sleep(self._retry_s)
            finally:
                await consumer.stop()

    async def _consume(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            checkpoint()
            batches = await consumer.getmany(timeout_ms=1000, max_records=self._max_records)
            records = [record for rs in batches.values() for record in rs]
            if not records:
                continue
            await self._handle(records)
            await consumer.commit(
                {
                    TopicPartition(tp.topic, tp.partition): rs[-1].offset + 1
                    for tp, rs in batches.items()
                    if rs
                }
            )

    async def _handle(self, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        callbacks: list[tuple[GatewayCallback, str | None]] = []
        for record in records:
            try:
                payload = json.loads(record.value or b"")
                callbacks.append((callback_from_envelope(payload), payload.get("occurred_at")))
            except (ValueError, KeyError, TypeError):
                log.error("skipping unreadable message at %s:%s", record.partition, record.offset)
        while True:
            checkpoint()
            try:
                results = await self._handler([cb for cb, _ in callbacks])
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # database trouble: keep the order, try again
                log.warning(
                    "applying %d callbacks failed (%s); retrying",
                    len(callbacks),
                    type(exc).__name__,
                )
                await asyncio.sleep(self._retry_s)
        self.applied += len(results)
        for (callback, occurred_at), result in zip(callbacks, results, strict=True):
            callback_applied(callback.gateway_id, result, occurred_at)
