"""The PostgreSQL webhook queue: fan-out in the relay's transaction, and
several worker processes sharing endpoints without ever sending to one
endpoint twice at once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg.types.json import Jsonb

from adapters.crypto.keyring import Keyring
from adapters.postgres.pool import open_pool
from adapters.postgres.relay import OutboxRelay
from adapters.postgres.webhooks_endpoints import PostgresWebhookEndpoints
from adapters.postgres.webhooks_queue import PostgresWebhookQueue
from adapters.system import SystemClock
from application.ports import OutboxMessage, SendResult, WebhookEndpoint
from application.webhooks.deliver_due import DeliverDueWebhooks
from domain.webhooks import RetrySchedule
from tests.support.api import ENCRYPTION_KEYS

SCHEDULE = RetrySchedule(base_s=0.05, cap_s=0.1, window=timedelta(hours=1))


class Publisher:
    def __init__(self) -> None:
        self.published: list[str] = []

    async def publish(self, messages: Sequence[OutboxMessage]) -> None:
        self.published += [m.event_id for m in messages]


class Sender:
    """Counts how many sends run at once per URL."""

    def __init__(self, shared: Sender | None = None) -> None:
        self.in_flight: dict[str, int] = shared.in_flight if shared else {}
        self.most: dict[str, int] = shared.most if shared else {}
        self.sent: list[tuple[str, str]] = shared.sent if shared else []
        self.mine = 0

    async def send(
        self, url: str, secret: str, event_id: str, body: bytes, previous: str | None = None
    ) -> SendResult:
        self.mine += 1
        self.in_flight[url] = self.in_flight.get(url, 0) + 1
        self.most[url] = max(self.most.get(url, 0), self.in_flight[url])
        await asyncio.sleep(0.01)
        self.sent.append((url, event_id))
        self.in_flight[url] -= 1
        return SendResult(200, 10)


def add_events(database_url: str, types: list[str]) -> list[str]:
    ids = [str(uuid.uuid4()) for _ in types]
    with psycopg.connect(database_url) as conn:
        for event_id, type_ in zip(ids, types, strict=True):
            conn.execute(
                "INSERT INTO outbox (event_id, topic, key, event_type, transaction_id, version,"
                " payload) VALUES (%s, 'payments.transactions.v1', 'k', %s, NULL, 1, %s)",
                (event_id, type_, Jsonb({"event_id": event_id, "type": type_})),
            )
    return ids


async def test_the_relay_fans_out_lifecycle_events_to_matching_enabled_endpoints(
    database_url: str,
) -> None:
    keyring = Keyring.parse(ENCRYPTION_KEYS)
    pool = await open_pool(database_url, min_size=1, max_size=4)
    try:
        endpoints = PostgresWebhookEndpoints(pool, keyring)
        now = datetime.now(UTC)
        for eid, events, status in (
            ("00000000-0000-0000-0000-000000000001", ("*",), "enabled"),
            ("00000000-0000-0000-0000-000000000002", ("transaction.failed",), "enabled"),
            ("00000000-0000-0000-0000-000000000003", ("*",), "disabled"),
        ):
            await endpoints.create(
                WebhookEndpoint(eid, "http://x/", events, "", status, now, now), "whsec_1"
            )
        ids = add_events(database_url, ["transaction.created", "transaction.failed"])
        with psycopg.connect(database_url) as conn:
            conn.execute(
                "INSERT INTO outbox (event_id, topic, key, event_type, payload)"
                " VALUES (%s, 'payments.callbacks.v1', 'k', 'callback.verified', '{}')",
                (uuid.uuid4(),),
            )
        relay = OutboxRelay(pool, database_url, Publisher())
        assert await relay.drain() == 3
        assert await relay.drain() == 0  # fanned out once, with the publication
        with psycopg.connect(database_url) as conn:
            rows = conn.execute(
                "SELECT endpoint_id::text, event_id::text FROM webhook_deliveries ORDER BY id"
            ).fetchall()
        assert sorted(rows) == sorted(
            [
                ("00000000-0000-0000-0000-000000000001", ids[0]),
                ("00000000-0000-0000-0000-000000000001", ids[1]),
                ("00000000-0000-0000-0000-000000000002", ids[1]),
            ]
        )
    finally:
        await pool.close()


async def test_two_workers_share_endpoints_one_sender_per_endpoint(database_url: str) -> None:
    keyring = Keyring.parse(ENCRYPTION_KEYS)
    pools = [await open_pool(database_url, min_size=1, max_size=4) for _ in range(2)]
    try:
        endpoints = PostgresWebhookEndpoints(pools[0], keyring)
        now = datetime.now(UTC)
        urls = [f"http://platform-{n}.example/" for n in range(3)]
        for n, url in enumerate(urls):
            await endpoints.create(
                WebhookEndpoint(str(uuid.uuid4()), url, ("*",), "", "enabled", now, now),
                f"whsec_{n}",
            )
        ids = add_events(database_url, ["transaction.created"] * 15)
        await OutboxRelay(pools[0], database_url, Publisher()).drain()
        sender = Sender()
        senders = [sender, Sender(shared=sender)]
        # Two endpoints at most each: with three, both workers must serve some.
        workers = [
            DeliverDueWebhooks(
                PostgresWebhookQueue(p, keyring), s, SystemClock(), SCHEDULE, max_endpoints=2
            )
            for p, s in zip(pools, senders, strict=True)
        ]
        for _ in range(20):
            await asyncio.gather(*(w.execute() for w in workers))
            await asyncio.sleep(0.02)
        for w in workers:
            await w.drain()
        assert sorted(sender.sent) == sorted((u, e) for u in urls for e in ids)  # each once
        assert sender.most == dict.fromkeys(urls, 1)
        assert all(s.mine > 0 for s in senders)
        with psycopg.connect(database_url) as conn:
            states = conn.execute("SELECT state, count(*) FROM webhook_deliveries GROUP BY 1")
            assert states.fetchall() == [("delivered", 45)]
            leases = conn.execute(
                "SELECT count(*) FROM webhook_endpoints WHERE lease_until IS NOT NULL"
            )
            assert leases.fetchone() == (0,)
    finally:
        for p in pools:
            await p.close()
