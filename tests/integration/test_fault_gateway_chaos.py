"""Fault: every sandbox gateway misbehaves at random while load runs.

Latency jitter, 500s, 503s, timeouts, connection resets after acceptance and
declines, across JSON and SOAP gateways, for deposits and withdrawals. When
the chaos stops, callbacks and the reconciler settle everything, and the
books must agree with ours and with the gateways' own ledgers.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime

import httpx
import psycopg

from tests.support.api import (
    ADMIN,
    CLIENT,
    behave,
    check_invariants,
    deposit,
    serve_api,
    settle_directly,
)
from tests.support.load import Load

USERS = ((1, "USD"), (2, "GBP"), (3, "EUR"))


def fund(api: httpx.Client, database_url: str) -> set[str]:
    """Credit each user directly (not through the gateways); returns those ids."""
    for gid in ("paypal", "stripe", "adyen"):
        behave(api, gid, callback_delay_ms=600_000)
    funded = set()
    for user, currency in USERS:
        tx = deposit(api, user, "1000.00", currency).json()
        settle_directly(database_url, tx["transaction_id"], "completed")
        funded.add(tx["transaction_id"])
    return funded


def traffic(client: httpx.Client, n: int) -> httpx.Response:
    rng = random.Random(n)
    user, currency = USERS[n % len(USERS)]
    kind = "/withdrawal" if rng.random() < 0.4 else "/deposit"
    return client.post(
        kind,
        json={"user_id": user, "amount": f"{rng.randint(1, 20)}.00", "currency": currency},
        headers=CLIENT,
    )


def open_count(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM transactions WHERE status IN ('pending', 'processing')"
        ).fetchone()
    assert row is not None
    return int(row[0])


def unchecked_count(database_url: str) -> int:
    """Attempts with an unknown outcome the reconciler has not asked about yet."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM transaction_attempts a JOIN transactions t"
            " ON t.id = a.transaction_id WHERE t.status IN ('completed', 'failed')"
            " AND a.outcome IN ('ambiguous', 'in_flight') AND a.reconciled_at IS NULL"
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_gateway_chaos_leaves_consistent_books(demo_database_url: str) -> None:
    with serve_api(
        demo_database_url,
        PAYMENTS_RECONCILE_AFTER_S="2",
        PAYMENTS_RECONCILE_INTERVAL_S="0.5",
        PAYMENTS_BREAKER_FAIL_MAX="5",
        PAYMENTS_BREAKER_RESET_S="1",
        PAYMENTS_DB_POOL_MAX="12",
    ) as api:
        funding = fund(api, demo_database_url)
        after_funding = datetime.now(UTC)
        for gid in ("paypal", "stripe", "adyen"):
            behave(api, gid, mode="chaos", latency_ms=20, callback_delay_ms=100)
        with Load(str(api.base_url), traffic, clients=4) as load:
            time.sleep(6.0)
        for gid in ("paypal", "stripe", "adyen"):
            behave(api, gid, mode="ok", callback_delay_ms=100)
        deadline = time.monotonic() + 60
        while open_count(demo_database_url) or unchecked_count(demo_database_url):
            assert time.monotonic() < deadline, "transactions left open after the chaos"
            time.sleep(0.3)
        # Funding was credited directly, not through a gateway: check what came after.
        check_invariants(demo_database_url, str(api.base_url), since=after_funding)
        ledgers = {
            gid: api.get(f"/sandbox/{gid}/ledger", headers=ADMIN).json()
            for gid in ("paypal", "stripe", "adyen")
        }
    statuses = [s.status for s in load.samples]
    assert set(statuses) <= {201, 402, 422, 503}, set(statuses)  # no 500/409, nothing dropped
    check_books(demo_database_url, ledgers, skip=funding)
    print(
        f"\n[gateway-chaos] requests={len(statuses)} "
        + " ".join(f"{code}={statuses.count(code)}" for code in sorted(set(statuses)))
        + f" gateway_payments={sum(len(v) for v in ledgers.values())}"
    )


def check_books(
    database_url: str, ledgers: dict[str, list[dict[str, object]]], skip: set[str]
) -> None:
    with psycopg.connect(database_url) as conn:
        attempts = {
            r[0]: (r[1], r[2])
            for r in conn.execute(
                "SELECT a.idempotency_reference, t.id::text, t.status FROM transaction_attempts a"
                " JOIN transactions t ON t.id = a.transaction_id"
            ).fetchall()
        }
        winners = {
            r[0]: r[1]
            for r in conn.execute(
                "SELECT t.id::text, a.idempotency_reference FROM transactions t"
                " JOIN transaction_attempts a ON a.transaction_id = t.id"
                " AND a.gateway_id = t.gateway_id AND a.outcome IN ('accepted', 'ambiguous')"
                " WHERE t.status = 'completed'"
            ).fetchall()
        }
        unbalanced = conn.execute(
            "SELECT journal_id FROM ledger_postings GROUP BY journal_id"
            " HAVING sum(amount_minor) <> 0"
        ).fetchall()
        negative = conn.execute(
            "SELECT id FROM ledger_accounts WHERE kind <> 'external' AND balance_minor < 0"
        ).fetchall()
        drift = conn.execute(
            "SELECT a.id FROM ledger_accounts a LEFT JOIN ledger_postings p ON p.account_id = a.id"
            " WHERE a.kind <> 'external' GROUP BY a.id, a.balance_minor"
            " HAVING a.balance_minor <> coalesce(sum(p.amount_minor), 0)"
        ).fetchall()
        held_left = conn.execute(
            "SELECT coalesce(sum(balance_minor), 0) FROM ledger_accounts WHERE kind = 'held'"
        ).fetchone()
    assert (unbalanced, negative, drift) == ([], [], [])
    assert held_left == (0,)  # every withdrawal settled: nothing stays held
    references = [p["reference"] for entries in ledgers.values() for p in entries]
    assert len(references) == len(set(references))  # no reference charged twice
    for reference in references:
        assert reference in attempts, f"the gateway has {reference}, we have no such attempt"
    completed_at_gateway = {
        p["reference"]
        for entries in ledgers.values()
        for p in entries
        if p["status"] == "completed"
    }
    for tx_id, reference in winners.items():
        if tx_id not in skip and reference not in completed_at_gateway:
            with psycopg.connect(database_url) as conn:
                rows = conn.execute(
                    "SELECT attempt_no, gateway_id, outcome, error_code, tries FROM"
                    " transaction_attempts WHERE transaction_id = %s ORDER BY attempt_no",
                    (tx_id,),
                ).fetchall()
                audit = conn.execute(
                    "SELECT actor, action FROM audit_log WHERE subject_id = %s ORDER BY id",
                    (tx_id,),
                ).fetchall()
            theirs = [p for e in ledgers.values() for p in e if p["transaction_id"] == tx_id]
            raise AssertionError(
                f"{tx_id} completed here, not at the gateway: {rows} {audit} {theirs}"
            )
