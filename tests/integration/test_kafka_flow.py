"""Outbox -> Kafka -> consumers, against a real broker (scripts/kafka-broker in CI)."""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

import httpx
import psycopg
import pytest
from aiokafka import AIOKafkaConsumer

from adapters.crypto.keyring import Keyring
from adapters.kafka.consumer import CallbackConsumer
from adapters.kafka.publisher import KafkaPublisher
from adapters.postgres.pool import open_pool
from adapters.postgres.relay import OutboxRelay
from adapters.postgres.unit_of_work import unit_of_work_factory
from adapters.system import SystemClock
from application.apply_callback import ApplyCallbacks
from application.ports import GatewayCallback
from tests.support.api import (
    CLIENT,
    ENCRYPTION_KEYS,
    behave,
    deposit,
    serve_api,
    wait_for_status,
)

TRANSACTIONS = "payments.transactions.v1"
CALLBACKS = "payments.callbacks.v1"


async def read_topic(
    bootstrap: str, topic: str, *, expect: int, timeout_s: float = 20
) -> list[dict[str, Any]]:
    """Every message on the topic from the beginning, until ``expect`` arrived."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    out: list[dict[str, Any]] = []
    try:
        deadline = time.monotonic() + timeout_s
        while len(out) < expect and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for r in records:
                    message = json.loads(r.value)
                    message["_key"] = r.key.decode()
                    message["_partition"] = r.partition
                    out.append(message)
    finally:
        await consumer.stop()
    return out


def outbox_ids(database_url: str, topic: str) -> list[str]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT event_id::text FROM outbox WHERE topic = %s ORDER BY id", (topic,)
        ).fetchall()
    return [r[0] for r in rows]


@pytest.fixture
def kafka_api(
    demo_database_url: str, kafka_bootstrap: str, kafka_topic_prefix: str
) -> Iterator[httpx.Client]:
    with serve_api(
        demo_database_url,
        PAYMENTS_KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        PAYMENTS_KAFKA_TOPIC_PREFIX=kafka_topic_prefix,
        PAYMENTS_KAFKA_GROUP_ID=f"{kafka_topic_prefix}callbacks",
        PAYMENTS_KAFKA_PARTITIONS="3",
    ) as client:
        yield client


def test_callbacks_travel_through_kafka_and_every_change_is_published_in_order(
    kafka_api: httpx.Client, kafka_bootstrap: str, kafka_topic_prefix: str, demo_database_url: str
) -> None:
    ids = [deposit(kafka_api, 1 + n % 2, "5.00", "USD" if n % 2 == 0 else "GBP") for n in range(6)]
    tx_ids = [r.json()["transaction_id"] for r in ids]
    for tx_id in tx_ids:
        wait_for_status(kafka_api, tx_id, "completed", timeout_s=15)
    assert kafka_api.get("/users/1/balances", headers=CLIENT).json() == [
        {"currency": "USD", "available": "15.00", "withdrawable": "15.00", "held": "0.00"}
    ]
    events = asyncio.run(
        read_topic(kafka_bootstrap, kafka_topic_prefix + TRANSACTIONS, expect=3 * len(tx_ids))
    )
    per_tx: dict[str, list[int]] = defaultdict(list)
    for e in events:
        assert e["_key"] == e["transaction_id"]
        assert set(e) >= {"event_id", "type", "transaction_id", "version", "occurred_at", "data"}
        per_tx[e["transaction_id"]].append(e["version"])
    assert {t: per_tx[t] for t in tx_ids} == {t: [1, 2, 3] for t in tx_ids}
    callbacks = asyncio.run(
        read_topic(kafka_bootstrap, kafka_topic_prefix + CALLBACKS, expect=len(tx_ids))
    )
    assert sorted(c["transaction_id"] for c in callbacks) == sorted(tx_ids)
    assert all("raw" not in json.dumps(c) for c in callbacks)


def test_a_relay_killed_mid_stream_loses_nothing(
    demo_database_url: str, kafka_bootstrap: str, kafka_topic_prefix: str
) -> None:
    # Payments taken while no relay runs: the outbox grows.
    with serve_api(demo_database_url, PAYMENTS_RUN_WORKERS="0") as api:
        behave(api, "paypal", callback_delay_ms=600_000)
        for _ in range(40):
            assert deposit(api, 1, "1.00", "USD").status_code == 201
    expected = outbox_ids(demo_database_url, TRANSACTIONS)
    assert len(expected) == 80

    async def relay_in_pieces() -> None:
        pool = await open_pool(demo_database_url)
        try:
            publisher = KafkaPublisher(kafka_bootstrap, kafka_topic_prefix, partitions=3)
            relay = OutboxRelay(pool, demo_database_url, publisher, batch_size=10)
            await relay.drain_once()  # one batch out, then the relay "dies"
            await publisher.aclose()
            publisher = KafkaPublisher(kafka_bootstrap, kafka_topic_prefix, partitions=3)
            task = asyncio.create_task(
                OutboxRelay(pool, demo_database_url, publisher, batch_size=10).run_forever()
            )
            deadline = time.monotonic() + 20
            while (await relay.backlog())[0] and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            task.cancel()
            # Bounded: a relay that loses its cancellation must fail, not hang.
            await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), 15)
            await publisher.aclose()
            assert (await relay.backlog())[0] == 0
        finally:
            await pool.close()

    asyncio.run(relay_in_pieces())
    seen = asyncio.run(
        read_topic(kafka_bootstrap, kafka_topic_prefix + TRANSACTIONS, expect=len(expected))
    )
    assert {e["event_id"] for e in seen} == set(expected)  # every event, duplicates allowed


def test_an_unpublished_batch_is_sent_again_with_the_same_event_ids(
    demo_database_url: str, kafka_bootstrap: str, kafka_topic_prefix: str
) -> None:
    with serve_api(demo_database_url, PAYMENTS_RUN_WORKERS="0") as api:
        behave(api, "paypal", callback_delay_ms=600_000)
        deposit(api, 1, "1.00", "USD")

    class Crashing(KafkaPublisher):
        async def publish(self, messages: Any) -> None:
            await super().publish(messages)  # delivered...
            raise RuntimeError("crash before marking")  # ...but never marked

    async def run() -> None:
        pool = await open_pool(demo_database_url)
        try:
            crashing = Crashing(kafka_bootstrap, kafka_topic_prefix, partitions=3)
            with pytest.raises(RuntimeError):
                await OutboxRelay(pool, demo_database_url, crashing).drain_once()
            await crashing.aclose()
            good = KafkaPublisher(kafka_bootstrap, kafka_topic_prefix, partitions=3)
            assert await OutboxRelay(pool, demo_database_url, good).drain() == 2
            await good.aclose()
        finally:
            await pool.close()

    asyncio.run(run())
    seen = asyncio.run(read_topic(kafka_bootstrap, kafka_topic_prefix + TRANSACTIONS, expect=4))
    ids = [e["event_id"] for e in seen]
    assert len(ids) == 4
    assert sorted(set(ids)) == sorted(outbox_ids(demo_database_url, TRANSACTIONS))


def test_redelivery_after_a_consumer_crash_has_no_double_effect(
    demo_database_url: str, kafka_bootstrap: str, kafka_topic_prefix: str
) -> None:
    with serve_api(demo_database_url, PAYMENTS_RUN_WORKERS="0") as api:
        behave(api, "paypal", callback_delay_ms=600_000)
        made = deposit(api, 1, "7.00", "USD").json()
        tx_id, reference = made["transaction_id"], made["reference_id"]

    async def run() -> tuple[int, int]:
        pool = await open_pool(demo_database_url)
        try:
            uow = unit_of_work_factory(pool, Keyring.parse(ENCRYPTION_KEYS))
            apply = ApplyCallbacks(uow, SystemClock())
            callback = GatewayCallback("paypal", "evt_crash", tx_id, "completed", reference, "paid")
            async with uow() as unit:
                await unit.inbox.add(callback, b"{}")
                await unit.outbox.put_callback(callback)
                await unit.commit()
            publisher = KafkaPublisher(kafka_bootstrap, kafka_topic_prefix, partitions=3)
            await OutboxRelay(pool, demo_database_url, publisher).drain()
            await publisher.aclose()

            group = f"{kafka_topic_prefix}crash"
            crashed = asyncio.Event()

            async def apply_then_crash(cbs: Sequence[GatewayCallback]) -> list[str]:
                status = await apply.execute(cbs)  # applied and committed...
                crashed.set()
                await asyncio.sleep(3600)  # ...then the process dies before the offset commit
                return status

            first = CallbackConsumer(
                kafka_bootstrap, apply_then_crash, group_id=group, topic_prefix=kafka_topic_prefix
            )
            task = asyncio.create_task(first.run_forever())
            await asyncio.wait_for(crashed.wait(), 30)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

            second = CallbackConsumer(
                kafka_bootstrap, apply.execute, group_id=group, topic_prefix=kafka_topic_prefix
            )
            task = asyncio.create_task(second.run_forever())
            deadline = time.monotonic() + 30
            while second.applied == 0 and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            return first.applied, second.applied
        finally:
            await pool.close()

    first_applied, second_applied = asyncio.run(run())
    assert (first_applied, second_applied) == (0, 1)  # redelivered to the second consumer
    with psycopg.connect(demo_database_url) as conn:
        balance = conn.execute(
            "SELECT balance_minor FROM ledger_accounts WHERE user_id = 1 AND kind = 'available'"
        ).fetchone()
        journals = conn.execute(
            "SELECT count(*) FROM ledger_journals WHERE transaction_id = %s", (tx_id,)
        ).fetchone()
        status = conn.execute(
            "SELECT status FROM callback_inbox WHERE event_id = 'evt_crash'"
        ).fetchone()
    assert balance == (700,)  # credited once
    assert journals == (1,)
    assert status == ("applied",)


def test_deposits_keep_working_while_kafka_is_unreachable(demo_database_url: str) -> None:
    with serve_api(
        demo_database_url,
        PAYMENTS_KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:1",  # nothing listens: Kafka is "down"
    ) as api:
        behave(api, "paypal", callback_delay_ms=600_000)
        for _ in range(3):
            r = deposit(api, 1, "1.00", "USD")
            assert r.status_code == 201, r.text
        ready = api.get("/ready")
        assert ready.status_code == 503
        assert ready.json()["checks"]["kafka"] == "unavailable"
    assert len(outbox_ids(demo_database_url, TRANSACTIONS)) == 6
