"""Consume verified callbacks from Kafka and apply them; commit offsets after.

Offsets are committed only once a message's callback is applied (or found
already applied), so a crash between the two redelivers it, and the inbox
makes the second application a no-op. A partition's messages are handled in
order; while the database is unavailable the consumer waits and retries the
same message rather than skipping ahead.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord

from adapters.messages import CALLBACKS_TOPIC, callback_from_envelope
from adapters.observability import callback_applied
from application.ports import GatewayCallback

log = logging.getLogger(__name__)

Handler = Callable[[GatewayCallback], Awaitable[str]]


class CallbackConsumer:
    def __init__(
        self,
        bootstrap_servers: str,
        handler: Handler,
        *,
        group_id: str = "payments-callbacks",
        topic_prefix: str = "",
        retry_delay_s: float = 1.0,
    ) -> None:
        self._bootstrap = bootstrap_servers
        self._handler = handler
        self._group_id = group_id
        self._topic = topic_prefix + CALLBACKS_TOPIC
        self._retry_s = retry_delay_s
        self.applied = 0

    async def run_forever(self) -> None:
        while True:
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
            batches = await consumer.getmany(timeout_ms=1000, max_records=200)
            for tp, records in batches.items():
                for record in records:
                    await self._handle(record)
                await consumer.commit(
                    {TopicPartition(tp.topic, tp.partition): records[-1].offset + 1}
                )

    async def _handle(self, record: ConsumerRecord[bytes, bytes]) -> None:
        try:
            payload = json.loads(record.value or b"")
            callback = callback_from_envelope(payload)
        except (ValueError, KeyError, TypeError):
            log.error("skipping unreadable message at %s:%s", record.partition, record.offset)
            return
        while True:
            try:
                result = await self._handler(callback)
                self.applied += 1
                callback_applied(callback.gateway_id, result, payload.get("occurred_at"))
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # database trouble: keep the order, try again
                log.warning(
                    "applying callback %s failed (%s); retrying",
                    callback.event_id,
                    type(exc).__name__,
                )
                await asyncio.sleep(self._retry_s)
