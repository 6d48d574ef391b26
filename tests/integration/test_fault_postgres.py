"""Fault: PostgreSQL SIGKILLed under load, then restarted.

Requests must fail fast with 503 (never hang), the service must recover on
its own once the database is back, and the money invariants must hold.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import psycopg
import pytest

from adapters.postgres.migrator import load_demo_data, migrate
from tests.support.api import CLIENT, check_invariants, serve_api
from tests.support.killable_pg import KillablePostgres
from tests.support.load import Load

MAX_REQUEST_S = 4.5  # pool wait (PAYMENTS_DB_POOL_TIMEOUT_S=3) + margin: the promised bound


@pytest.fixture
def killable_pg() -> Iterator[KillablePostgres]:
    pg = KillablePostgres()
    pg.start()
    asyncio.run(migrate(pg.url))
    asyncio.run(load_demo_data(pg.url))
    try:
        yield pg
    finally:
        pg.stop()


def deposit(client: httpx.Client, n: int) -> httpx.Response:
    return client.post(
        "/deposit",
        json={"user_id": 1 + n % 2, "amount": "1.00", "currency": "USD" if n % 2 == 0 else "GBP"},
        headers=CLIENT,
    )


def test_postgres_killed_under_load_fails_fast_and_recovers(killable_pg: KillablePostgres) -> None:
    with (
        serve_api(killable_pg.url, PAYMENTS_DB_POOL_MAX="8") as api,
        Load(str(api.base_url), deposit, clients=4) as load,
    ):
        time.sleep(2.0)
        killed_at = time.monotonic()
        killable_pg.kill()
        time.sleep(6.0)
        ready_during = api.get("/ready").status_code
        killable_pg.start()
        restarted_at = time.monotonic()
        # Recovered: answers are 201 again, by itself.
        deadline = time.monotonic() + 20
        while True:
            recent = load.between(time.monotonic() - 1.0, time.monotonic())
            if any(s.status == 201 for s in recent):
                break
            assert time.monotonic() < deadline, "the service did not recover"
            time.sleep(0.2)
        time.sleep(1.0)
        ready_after = api.get("/ready").status_code
    samples = load.samples
    before = [s for s in samples if s.started + s.latency_s < killed_at]
    outage = [s for s in samples if killed_at <= s.started < restarted_at]
    statuses = {s.status for s in samples}
    assert before
    assert [s.status for s in before if s.status != 201] == []
    assert outage
    assert {s.status for s in outage} <= {503, 201}
    assert any(s.status == 503 for s in outage)
    assert statuses <= {201, 503}, statuses  # never a 500, never a dropped connection
    assert max(s.latency_s for s in samples) < MAX_REQUEST_S
    assert (ready_during, ready_after) == (503, 200)
    problems = [s.body for s in outage if s.status == 503]
    assert all(
        p.get("type") in ("/problems/service-unavailable",) or p.get("transaction_id")
        for p in problems
    )

    failed = [s for s in samples if s.status == 503]
    print(
        f"\n[postgres-kill] requests={len(samples)} 201={len(samples) - len(failed)} "
        f"503={len(failed)} max_latency_s={max(s.latency_s for s in samples):.2f} "
        f"503_window_s={max(s.started for s in failed) - min(s.started for s in failed):.1f}"
    )
    # Every accepted deposit is in the database; the ledger is sound.
    accepted = {s.body["transaction_id"] for s in samples if s.status == 201}
    with psycopg.connect(killable_pg.url) as conn:
        stored = {str(r[0]) for r in conn.execute("SELECT id FROM transactions").fetchall()}
        unbalanced = conn.execute(
            "SELECT journal_id FROM ledger_postings"
            " GROUP BY journal_id HAVING sum(amount_minor) <> 0"
        ).fetchall()
        negative = conn.execute(
            "SELECT id FROM ledger_accounts WHERE kind <> 'external' AND balance_minor < 0"
        ).fetchall()
    assert accepted <= stored
    assert (unbalanced, negative) == ([], [])
    check_invariants(killable_pg.url, None)
