"""Smoke test of the Kafka broker the integration tests use (see tests/integration/kafka.py)."""

from __future__ import annotations

import asyncio
from collections import defaultdict

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition


async def test_idempotent_producer_round_trips_keyed_messages_through_a_consumer_group(
    kafka_bootstrap: str, kafka_topic_prefix: str
) -> None:
    topic = f"{kafka_topic_prefix}smoke"
    sent = [(f"tx-{i % 4}".encode(), f"event-{i}".encode()) for i in range(20)]

    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, enable_idempotence=True, acks="all"
    )
    await producer.start()
    try:
        # The topic does not exist yet: the broker auto-creates it on first use.
        deliveries = [await producer.send(topic, value, key=key) for key, value in sent]
        await asyncio.gather(*deliveries)
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=f"{kafka_topic_prefix}group",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    received: list[tuple[bytes | None, bytes | None, int, int]] = []
    try:
        async with asyncio.timeout(60):
            while len(received) < len(sent):
                batches = await consumer.getmany(timeout_ms=1000)
                for tp, records in batches.items():
                    received.extend((r.key, r.value, tp.partition, r.offset) for r in records)
        await consumer.commit()
        ends: dict[int, int] = {}
        for _key, _value, partition, offset in received:
            ends[partition] = max(ends.get(partition, 0), offset + 1)
        committed = {p: await consumer.committed(TopicPartition(topic, p)) for p in ends}
    finally:
        await consumer.stop()

    assert sorted((key, value) for key, value, _p, _o in received) == sorted(sent)
    assert committed == ends
    # One key, one partition, in the order produced (idempotence keeps order on retries).
    partitions_by_key: dict[bytes | None, set[int]] = defaultdict(set)
    values_by_key: dict[bytes | None, list[bytes | None]] = defaultdict(list)
    for key, value, partition, _offset in received:
        partitions_by_key[key].add(partition)
        values_by_key[key].append(value)
    assert all(len(partitions) == 1 for partitions in partitions_by_key.values())
    expected_by_key: dict[bytes | None, list[bytes | None]] = defaultdict(list)
    for key, value in sent:
        expected_by_key[key].append(value)
    assert values_by_key == expected_by_key
