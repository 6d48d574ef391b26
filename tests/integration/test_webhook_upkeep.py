"""Upkeep of the webhook tables on real PostgreSQL: the gauges operators alert
on, and the purge that keeps finished attempts for the retention only."""

from __future__ import annotations

import uuid

import psycopg
from psycopg_pool import AsyncConnectionPool

from adapters.postgres.webhooks_upkeep import PostgresWebhookUpkeep, WebhookStats


def add_endpoint(conn: psycopg.Connection, status: str = "enabled", failing: bool = False) -> str:
    endpoint_id = str(uuid.uuid4())
    conn.execute(
        "INSERT INTO webhook_endpoints (id, url, events, status, secret_enc, failing_since)"
        " VALUES (%s, 'https://platform.example/hooks', '{*}', %s, 'x',"
        " CASE WHEN %s THEN now() END)",
        (endpoint_id, status, failing),
    )
    return endpoint_id


def add_delivery(
    conn: psycopg.Connection, endpoint_id: str, state: str, age: str, due_in: str = "0s"
) -> int:
    row = conn.execute(
        "INSERT INTO webhook_deliveries (endpoint_id, event_id, event_type, state, due_at,"
        " created_at) VALUES (%s, %s, 'transaction.created', %s,"
        " now() - %s::interval + %s::interval, now() - %s::interval) RETURNING id",
        (endpoint_id, uuid.uuid4(), state, age, due_in, age),
    ).fetchone()
    assert row is not None
    return int(row[0])


async def test_stats_count_due_retrying_and_endpoints_by_status(
    database_url: str, pool: AsyncConnectionPool
) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        healthy = add_endpoint(conn)
        failing = add_endpoint(conn, failing=True)
        add_endpoint(conn, status="disabled")
        add_delivery(conn, healthy, "pending", "2 minutes")  # due for two minutes
        add_delivery(conn, failing, "pending", "1 second")
        add_delivery(conn, failing, "pending", "0s", due_in="1 hour")  # a retry, later
        add_delivery(conn, healthy, "delivered", "1 hour")
    stats = await PostgresWebhookUpkeep(pool, retention_days=30).stats()
    assert stats == WebhookStats(
        due=2,
        retrying=1,
        oldest_due_s=stats.oldest_due_s,
        enabled=2,
        disabled=1,
        failing=1,
    )
    assert 115 <= stats.oldest_due_s <= 180


async def test_purge_deletes_only_finished_attempts_older_than_the_retention(
    database_url: str, pool: AsyncConnectionPool
) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        endpoint = add_endpoint(conn)
        old = [add_delivery(conn, endpoint, s, "31 days") for s in ("delivered", "failed")]
        old.append(add_delivery(conn, endpoint, "abandoned", "40 days"))
        kept = [
            add_delivery(conn, endpoint, "pending", "31 days"),  # still queued: never purged
            add_delivery(conn, endpoint, "delivered", "29 days"),
        ]
    assert await PostgresWebhookUpkeep(pool, retention_days=30).purge_finished() == len(old)
    with psycopg.connect(database_url) as conn:
        left = {r[0] for r in conn.execute("SELECT id FROM webhook_deliveries").fetchall()}
    assert left == set(kept)


async def test_an_empty_queue_reports_zeroes(pool: AsyncConnectionPool) -> None:
    upkeep = PostgresWebhookUpkeep(pool, retention_days=30)
    assert await upkeep.stats() == WebhookStats(0, 0, 0.0, 0, 0, 0)
    assert await upkeep.purge_finished() == 0
