"""One callback that cannot be applied holds nobody up: in-process and through Kafka.

The attack that found it: a user's balance pushed to the BIGINT limit, so
crediting their next deposit raises NumericValueOutOfRange. Before batched
settlement, the relay retried that batch forever and every other user's
deposits stayed ``processing`` while /ready said 200.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import psycopg
import pytest

from tests.support.api import ADMIN, deposit, serve_api, wait_for_status

BIGINT_MAX = 2**63 - 1
FAST_RETRIES = {
    "PAYMENTS_CALLBACK_MAX_ATTEMPTS": "3",
    "PAYMENTS_CALLBACK_RETRY_BASE_S": "0.3",
    "PAYMENTS_SETTLEMENT_DEGRADED_AFTER_S": "0.5",
}


def push_balance_to_the_limit(database_url: str, user_id: int, currency: str) -> None:
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO ledger_accounts (user_id, currency, kind, balance_minor)"
            " VALUES (%s, %s, 'available', %s)",
            (user_id, currency, BIGINT_MAX - 10),
        )


def inbox_status(database_url: str, tx_id: str) -> tuple[str, int] | None:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT status, apply_attempts FROM callback_inbox WHERE transaction_id = %s",
            (tx_id,),
        ).fetchone()
    return (row[0], row[1]) if row else None


def settles_around_a_bad_callback(api: httpx.Client, database_url: str) -> None:
    push_balance_to_the_limit(database_url, 2, "GBP")
    before = [deposit(api, uid, "5.00", cur).json() for uid, cur in ((1, "USD"), (4, "JPY"))]
    bad = deposit(api, 2, "5.00", "GBP").json()
    after = [deposit(api, uid, "5.00", cur).json() for uid, cur in ((3, "EUR"), (1, "USD"))]

    # Everyone else settles within the usual time (gateway + callback delay).
    for tx in before + after:
        wait_for_status(api, tx["transaction_id"], "completed", timeout_s=10)

    # While the bad callback waits for its retries, readiness says so.
    degraded = None
    deadline = time.monotonic() + 10
    while degraded is None and time.monotonic() < deadline:
        ready = api.get("/ready")
        if ready.status_code == 503:
            degraded = ready.json()
        time.sleep(0.05)
    assert degraded is not None, "readiness never reported the settlement backlog"
    assert degraded["status"] == "degraded"
    assert degraded["checks"]["settlement"] == "degraded"
    assert degraded["settlement"]["unapplied_callbacks"] >= 1

    # After its retries it is quarantined as a reconciliation issue naming the error.
    deadline = time.monotonic() + 20
    while inbox_status(database_url, bad["transaction_id"]) != ("quarantined", 3):
        assert time.monotonic() < deadline, inbox_status(database_url, bad["transaction_id"])
        time.sleep(0.1)
    issues = api.get("/reconciliation/issues", headers=ADMIN).json()
    [issue] = [i for i in issues if i["transaction_id"] == bad["transaction_id"]]
    assert issue["kind"].startswith("callback_quarantined:")
    assert "LedgerLimitExceeded" in issue["detail"]
    assert (
        api.get(f"/transactions/{bad['transaction_id']}", headers=ADMIN).json()["status"]
        == "processing"
    )

    # The backlog is gone: ready again, and settlement goes on as usual.
    deadline = time.monotonic() + 5
    while api.get("/ready").status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    later = deposit(api, 4, "7.00", "JPY").json()
    wait_for_status(api, later["transaction_id"], "completed", timeout_s=10)


@pytest.fixture
def inprocess_api(demo_database_url: str) -> Iterator[httpx.Client]:
    with serve_api(demo_database_url, **FAST_RETRIES) as client:
        yield client


def test_a_bad_callback_is_quarantined_and_the_relay_settles_everyone_else(
    inprocess_api: httpx.Client, demo_database_url: str
) -> None:
    settles_around_a_bad_callback(inprocess_api, demo_database_url)


def test_a_bad_callback_is_quarantined_and_the_kafka_consumer_commits_past_it(
    demo_database_url: str, kafka_bootstrap: str, kafka_topic_prefix: str
) -> None:
    with serve_api(
        demo_database_url,
        PAYMENTS_KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        PAYMENTS_KAFKA_TOPIC_PREFIX=kafka_topic_prefix,
        PAYMENTS_KAFKA_GROUP_ID=f"{kafka_topic_prefix}callbacks",
        PAYMENTS_KAFKA_PARTITIONS="1",  # one partition: the bad message sits before the rest
        **FAST_RETRIES,
    ) as api:
        settles_around_a_bad_callback(api, demo_database_url)
