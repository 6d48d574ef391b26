"""Publish outbox messages to Kafka with an idempotent producer.

acks=all plus idempotence means a message the broker acknowledged is on every
in-sync replica exactly once per producer session, in order per partition;
the key (transaction id) keeps a transaction's events in one partition.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from adapters.messages import CALLBACKS_TOPIC, TRANSACTIONS_TOPIC
from application.ports import OutboxMessage

TOPICS = (TRANSACTIONS_TOPIC, CALLBACKS_TOPIC)


async def ensure_topics(
    bootstrap_servers: str, prefix: str = "", partitions: int = 6, replication: int = 1
) -> None:
    """Create our topics if missing (brokers may forbid auto-creation)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(name=prefix + t, num_partitions=partitions, replication_factor=replication)
            for t in TOPICS
            if prefix + t not in existing
        ]
        if missing:
            await admin.create_topics(missing)
    finally:
        await admin.close()


class KafkaPublisher:
    """Starts its producer on first use, so the service starts (and takes
    payments into the outbox) while Kafka is down; the relay retries."""

    def __init__(self, bootstrap_servers: str, topic_prefix: str = "", partitions: int = 6) -> None:
        self._bootstrap = bootstrap_servers
        self._prefix = topic_prefix
        self._partitions = partitions
        self._producer: AIOKafkaProducer | None = None

    async def _started(self) -> AIOKafkaProducer:
        if self._producer is None:
            await ensure_topics(self._bootstrap, self._prefix, self._partitions)
            producer = AIOKafkaProducer(
                bootstrap_servers=self._bootstrap,
                client_id="payments-relay",
                enable_idempotence=True,
                acks="all",
                linger_ms=5,
                request_timeout_ms=15_000,
            )
            try:
                await producer.start()
            except Exception:
                await producer.stop()
                raise
            self._producer = producer
        return self._producer

    async def aclose(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def publish(self, messages: Sequence[OutboxMessage]) -> None:
        # Queue all first (batched by the producer), then wait for every ack:
        # if any fails, the relay marks none and the batch is sent again.
        producer = await self._started()
        pending = [
            await producer.send(
                self._prefix + m.topic,
                value=json.dumps(m.payload, separators=(",", ":")).encode(),
                key=m.key.encode(),
                headers=[("event_type", m.type.encode()), ("event_id", m.event_id.encode())],
            )
            for m in messages
        ]
        await asyncio.gather(*pending)

    async def ping(self, timeout_s: float = 2.0) -> bool:
        try:
            producer = await asyncio.wait_for(self._started(), timeout_s)
            await asyncio.wait_for(producer.client.fetch_all_metadata(), timeout_s)
        except Exception:  # any broker trouble means "not ready"
            return False
        return True
