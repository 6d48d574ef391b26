"""Idempotency keys on real PostgreSQL under real concurrency."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import psycopg
import pytest

from adapters.postgres.idempotency import PostgresIdempotencyStore
from adapters.postgres.pool import open_pool
from application.ports import KeyClaim
from tests.support.api import CLIENT, behave, sandbox_requests, serve_api


@pytest.fixture
def api(demo_database_url: str) -> Iterator[httpx.Client]:
    with serve_api(demo_database_url, PAYMENTS_DB_POOL_MAX="20") as client:
        behave(client, "paypal", latency_ms=200)  # keep the first request in flight a while
        yield client


def test_fifty_concurrent_identical_deposits_make_one_transaction(
    api: httpx.Client, demo_database_url: str
) -> None:
    body = {"user_id": 1, "amount": "25.00", "currency": "USD"}
    headers = {**CLIENT, "Idempotency-Key": "order-4711"}

    def send(_: int) -> httpx.Response:
        return api.post("/deposit", json=body, headers=headers)

    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(send, range(50)))
    statuses = sorted({a.status_code for a in answers})
    assert set(statuses) <= {201, 409}
    created = [a for a in answers if a.status_code == 201]
    assert created
    assert len({a.content for a in created}) == 1  # every 201 is the same body
    assert sandbox_requests(api, "paypal") == 1
    with psycopg.connect(demo_database_url) as conn:
        assert conn.execute("SELECT count(*) FROM transactions").fetchone() == (1,)
    # Once the first finished, everyone gets the stored answer.
    late = api.post("/deposit", json=body, headers=headers)
    assert (late.status_code, late.content) == (201, created[0].content)
    assert late.headers["idempotent-replayed"] == "true"


def test_a_different_body_with_the_same_key_is_422(api: httpx.Client) -> None:
    headers = {**CLIENT, "Idempotency-Key": "order-1"}
    assert (
        api.post(
            "/deposit", json={"user_id": 1, "amount": "1.00", "currency": "USD"}, headers=headers
        ).status_code
        == 201
    )
    r = api.post(
        "/deposit", json={"user_id": 1, "amount": "2.00", "currency": "USD"}, headers=headers
    )
    assert r.status_code == 422


def test_withdrawal_insufficient_funds_is_remembered(api: httpx.Client) -> None:
    headers = {**CLIENT, "Idempotency-Key": "wd-1"}
    body = {"user_id": 1, "amount": "5.00", "currency": "USD"}
    first = api.post("/withdrawal", json=body, headers=headers)
    again = api.post("/withdrawal", json=body, headers=headers)
    assert first.status_code == again.status_code == 422
    assert again.headers["idempotent-replayed"] == "true"


def holder(owner: str) -> dict[str, Any]:
    return {"owner": owner, "transaction_id": str(uuid.uuid4()), "lease_s": 60.0}


def test_expired_keys_are_purged_and_can_be_reused(demo_database_url: str) -> None:
    async def run() -> tuple[int, str]:
        pool = await open_pool(demo_database_url)
        try:
            store = PostgresIdempotencyStore(pool)
            await store.claim(KeyClaim("s", "k", "f1", 3600, **holder("a")))
            async with pool.connection() as conn:
                await conn.execute("UPDATE idempotency_keys SET expires_at = now() - interval '1s'")
            reused = await store.claim(
                KeyClaim("s", "k", "f2", 3600, **holder("b"))
            )  # expired: new
            async with pool.connection() as conn:
                await conn.execute("UPDATE idempotency_keys SET expires_at = now() - interval '1s'")
            return await store.purge_expired(), reused.outcome
        finally:
            await pool.close()

    purged, outcome = asyncio.run(run())
    assert (purged, outcome) == (1, "new")
