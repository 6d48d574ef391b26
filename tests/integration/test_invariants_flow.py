"""The invariant checker against real PostgreSQL, the real service and its sandbox.

After real traffic (deposits on the three gateways, JSON and SOAP, completed,
failed and open withdrawals, a decline, a fallback, an idempotent replay) the
checker passes; then each invariant is broken on purpose with direct SQL or a
payment sent straight to a sandbox, and the checker must fail naming it. The
database breakages are undone after each test, so one traffic run serves them
all.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from adapters.gateways.verification.ledger_check import SandboxLedgers
from adapters.kafka.verification.event_check import KafkaEventStream
from adapters.messages import TRANSACTIONS_TOPIC
from adapters.postgres.migrator import load_demo_data
from adapters.postgres.pool import open_pool
from adapters.postgres.verification.invariants import PostgresInvariants, check_database
from application.verification.check_invariants import CheckInvariants
from application.verification.report import CheckReport
from tests.support.api import (
    ADMIN,
    ADMIN_KEY,
    CLIENT,
    ENCRYPTION_KEYS,
    GATEWAY_KEY_ENV,
    MERCHANT,
    WEBHOOK_SECRETS,
    behave,
    deposit,
    serve_api,
    wait_for_status,
    withdraw,
)

GATEWAYS = ("paypal", "stripe", "adyen")
IBAN = {"iban": "DE89370400440532013000"}


def base_url(api: httpx.Client) -> str:
    return str(api.base_url).rstrip("/")


def check(
    database_url: str,
    api: httpx.Client | None,
    *,
    kafka: tuple[str, str] | None = None,
) -> CheckReport:
    """The checker as `payments check` composes it, in its own event loop."""

    async def run() -> CheckReport:
        pool = await open_pool(database_url, min_size=1, max_size=2)
        try:
            gateways = None
            if api is not None:
                sandbox = f"{base_url(api)}/sandbox"
                gateways = SandboxLedgers([(g, f"{sandbox}/{g}") for g in GATEWAYS], ADMIN_KEY)
            events = KafkaEventStream(*kafka) if kafka is not None else None
            return await CheckInvariants(PostgresInvariants(pool), gateways, events).execute()
        finally:
            await pool.close()

    return asyncio.run(run())


def violated(report: CheckReport) -> set[str]:
    return {v.invariant for v in report.violations}


def wait_for_outbox(database_url: str, timeout_s: float = 15) -> None:
    """Until the relay marked every event published (in-process or Kafka)."""
    deadline = time.monotonic() + timeout_s
    with psycopg.connect(database_url, autocommit=True) as conn:
        while True:
            row = conn.execute("SELECT count(*) FROM outbox WHERE published_at IS NULL").fetchone()
            if row == (0,):
                return
            assert time.monotonic() < deadline, f"{row} outbox events still unpublished"
            time.sleep(0.05)


def run_traffic(api: httpx.Client, database_url: str) -> dict[str, str]:
    """Real payments through every path that moves money; returns their ids by role."""
    ids: dict[str, str] = {}

    def made(name: str, response: httpx.Response, status: int = 201) -> None:
        assert response.status_code == status, response.text
        ids[name] = response.json()["transaction_id"]

    made("deposit_us", deposit(api, 1, "100.00", "USD"))  # paypal, JSON
    made("deposit_gb", deposit(api, 2, "50.00", "GBP"))  # stripe, JSON
    made("deposit_de", deposit(api, 3, "70.00", "EUR"))  # adyen, SOAP
    for name in ("deposit_us", "deposit_gb", "deposit_de"):
        wait_for_status(api, ids[name], "completed")
    made("withdrawal_done", withdraw(api, 1, "30.00", "USD", destination=IBAN))
    made("withdrawal_soap", withdraw(api, 3, "20.00", "EUR", destination=IBAN))
    behave(api, "paypal", final_status="failed")
    made("withdrawal_failed", withdraw(api, 1, "20.00", "USD", destination=IBAN))
    wait_for_status(api, ids["withdrawal_failed"], "failed")
    behave(api, "paypal", callback_delay_ms=600_000)  # this one stays open
    made("withdrawal_open", withdraw(api, 1, "10.00", "USD", destination=IBAN))
    behave(api, "paypal", mode="down")  # US falls back to stripe
    made("deposit_fallback", deposit(api, 1, "15.00", "USD"))
    behave(api, "paypal", mode="ok")
    behave(api, "stripe", mode="decline")
    r = deposit(api, 2, "5.00", "GBP")
    assert r.status_code == 402, r.text
    ids["deposit_declined"] = r.json()["transaction_id"]
    behave(api, "stripe", mode="ok")
    first = deposit(api, 4, "1000", "JPY", **{"Idempotency-Key": "inv-1"})
    again = deposit(api, 4, "1000", "JPY", **{"Idempotency-Key": "inv-1"})
    assert again.headers.get("Idempotent-Replayed") == "true"
    made("deposit_jp", first)
    for name in ("withdrawal_done", "withdrawal_soap", "deposit_fallback", "deposit_jp"):
        wait_for_status(api, ids[name], "completed")
    assert api.get("/users/1/balances", headers=CLIENT).json() == [
        {"currency": "USD", "available": "75.00", "withdrawable": "75.00", "held": "10.00"}
    ]
    wait_for_outbox(database_url)
    return ids


@dataclass
class World:
    api: httpx.Client
    database_url: str
    ids: dict[str, str]

    def sql(
        self, *statements: str | sql.Composed, replica: bool = False, **params: Any
    ) -> list[Any]:
        """Run statements in one transaction; ``replica`` bypasses triggers (not CHECKs)."""
        rows: list[Any] = []
        with psycopg.connect(self.database_url) as conn, conn.transaction():
            if replica:
                # Disables ordinary and constraint triggers alike: the deferred
                # balanced-journal check and the append-only guards.
                conn.execute("SET LOCAL session_replication_role = replica")
            for statement in statements:
                cur = conn.execute(statement, params or None)
                if cur.description is not None:
                    rows = cur.fetchall()
        return rows


def _admin(server_url: str, query: sql.Composed) -> None:
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(query)


@pytest.fixture(scope="module")
def world(postgres_server_url: str, template_database: str) -> Iterator[World]:
    """One database and service for the module, after real traffic (the slow part)."""
    name = f"test_inv_{uuid.uuid4().hex}"
    _admin(
        postgres_server_url,
        sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(name), sql.Identifier(template_database)
        ),
    )
    database_url = make_conninfo(postgres_server_url, dbname=name)
    try:
        asyncio.run(load_demo_data(database_url))
        with serve_api(database_url) as api:
            yield World(api, database_url, run_traffic(api, database_url))
    finally:
        _admin(
            postgres_server_url,
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)),
        )


# -- sound after real traffic -----------------------------------------------------------------
def test_the_checker_passes_after_real_traffic(world: World) -> None:
    report = check(world.database_url, world.api)
    assert report.ok, report.violations
    assert report.counts["transactions"] == 10
    assert report.counts["gateway_payments"] == 9  # the decline and paypal-down took nothing
    assert report.counts["journals"] == 12  # 5 credits, 3 holds + 3 settlements, 1 open hold
    assert report.counts["outbox_unpublished"] == 0
    assert asyncio.run(_check_database(world.database_url)) == []


async def _check_database(database_url: str) -> list[Any]:
    pool = await open_pool(database_url, min_size=1, max_size=1)
    try:
        return await check_database(pool)
    finally:
        await pool.close()


# -- each invariant broken on purpose ---------------------------------------------------------
@contextmanager
def unbalanced_posting(w: World) -> Iterator[str]:
    """An extra posting on a deposit's credit journal (the deferred trigger is bypassed)."""
    tx_id = w.ids["deposit_us"]
    w.sql(
        """INSERT INTO ledger_postings (journal_id, account_id, amount_minor)
        SELECT j.id, a.id, 1 FROM ledger_journals j, ledger_accounts a
        WHERE j.transaction_id = %(tx)s AND a.user_id = 1 AND a.kind = 'held'""",
        replica=True,
        tx=tx_id,
    )
    try:
        yield tx_id
    finally:
        w.sql(
            """DELETE FROM ledger_postings p USING ledger_journals j, ledger_accounts a
            WHERE p.journal_id = j.id AND j.transaction_id = %(tx)s
              AND p.account_id = a.id AND a.kind = 'held'""",
            replica=True,
            tx=tx_id,
        )


@contextmanager
def balance_off_by_one(w: World) -> Iterator[None]:
    where = "WHERE user_id = 2 AND currency = 'GBP' AND kind = 'available'"
    w.sql(f"UPDATE ledger_accounts SET balance_minor = balance_minor + 1 {where}")
    try:
        yield None
    finally:
        w.sql(f"UPDATE ledger_accounts SET balance_minor = balance_minor - 1 {where}")


@contextmanager
def negative_held_balance(w: World) -> Iterator[None]:
    """The CHECK constraint forbids it, so it goes first (and comes back after)."""
    where = "WHERE user_id = 1 AND currency = 'USD' AND kind = 'held'"
    w.sql(
        "ALTER TABLE ledger_accounts DROP CONSTRAINT ledger_accounts_non_negative",
        f"UPDATE ledger_accounts SET balance_minor = -500 {where}",
    )
    try:
        yield None
    finally:
        w.sql(
            f"UPDATE ledger_accounts SET balance_minor = 1000 {where}",
            "ALTER TABLE ledger_accounts ADD CONSTRAINT ledger_accounts_non_negative "
            "CHECK (kind = 'external' OR balance_minor >= 0)",
        )


@contextmanager
def outbox_event_deleted(w: World) -> Iterator[str]:
    tx_id = w.ids["deposit_gb"]
    w.sql(
        "CREATE TABLE outbox_kept (LIKE outbox)",
        "INSERT INTO outbox_kept SELECT * FROM outbox WHERE transaction_id = %(tx)s "
        "AND version = 2",
        "DELETE FROM outbox WHERE transaction_id = %(tx)s AND version = 2",
        tx=tx_id,
    )
    try:
        yield tx_id
    finally:
        w.sql("INSERT INTO outbox SELECT * FROM outbox_kept", "DROP TABLE outbox_kept")


@contextmanager
def completed_without_journal(w: World) -> Iterator[str]:
    tx_id = w.ids["deposit_declined"]
    w.sql("UPDATE transactions SET status = 'completed' WHERE id = %(tx)s", tx=tx_id)
    try:
        yield tx_id
    finally:
        w.sql("UPDATE transactions SET status = 'failed' WHERE id = %(tx)s", tx=tx_id)


@contextmanager
def open_withdrawal_marked_completed(w: World) -> Iterator[str]:
    """No payout journal, and the hold still counted as held."""
    tx_id = w.ids["withdrawal_open"]
    w.sql("UPDATE transactions SET status = 'completed' WHERE id = %(tx)s", tx=tx_id)
    try:
        yield tx_id
    finally:
        w.sql("UPDATE transactions SET status = 'processing' WHERE id = %(tx)s", tx=tx_id)


@contextmanager
def reference_used_twice(w: World) -> Iterator[str]:
    """A second attempt under another transaction's reference (UNIQUE dropped first)."""
    tx_id, other = w.ids["deposit_gb"], w.ids["deposit_us"]
    (constraint,) = w.sql(
        """SELECT conname FROM pg_constraint
        WHERE conrelid = 'transaction_attempts'::regclass AND contype = 'u'"""
    )[0]
    w.sql(
        sql.SQL("ALTER TABLE transaction_attempts DROP CONSTRAINT {}").format(
            sql.Identifier(constraint)
        ),
        """INSERT INTO transaction_attempts
            (transaction_id, attempt_no, gateway_id, idempotency_reference, outcome, started_at)
        VALUES (%(tx)s, 2, 'paypal', %(other)s || ':1', 'declined', now())""",
        tx=tx_id,
        other=other,
    )
    try:
        yield tx_id
    finally:
        w.sql(
            "DELETE FROM transaction_attempts WHERE transaction_id = %(tx)s AND attempt_no = 2",
            sql.SQL(
                "ALTER TABLE transaction_attempts ADD CONSTRAINT {} UNIQUE (idempotency_reference)"
            ).format(sql.Identifier(constraint)),
            tx=tx_id,
        )


Breakage = Callable[[World], Any]
BREAKAGES: list[tuple[str, Breakage, set[str], str | None]] = [
    # (id, breakage, the invariants it must break - exactly, whose transaction is named)
    (
        "unbalanced_posting",
        unbalanced_posting,
        {"ledger.journal_balanced", "ledger.journal_shape", "ledger.balance_matches_postings"},
        "deposit_us",
    ),
    (
        "balance_off_by_one",
        balance_off_by_one,
        {"ledger.balance_matches_postings", "ledger.money_conserved"},
        None,
    ),
    (
        "negative_held_balance",
        negative_held_balance,
        {
            "ledger.non_negative",
            "ledger.balance_matches_postings",
            "ledger.money_conserved",
            "ledger.held_matches_open_withdrawals",
        },
        None,
    ),
    ("outbox_event_deleted", outbox_event_deleted, {"outbox.lifecycle_events"}, "deposit_gb"),
    (
        "completed_without_journal",
        completed_without_journal,
        {"ledger.deposit_journals", "outbox.lifecycle_events", "gateway.outcome_matches"},
        "deposit_declined",
    ),
    (
        "open_withdrawal_marked_completed",
        open_withdrawal_marked_completed,
        {
            "ledger.held_matches_open_withdrawals",
            "ledger.withdrawal_journals",
            "outbox.lifecycle_events",
            "gateway.outcome_matches",
        },
        "withdrawal_open",
    ),
    (
        "reference_used_twice",
        reference_used_twice,
        {
            "attempts.unique_reference",
            "attempts.well_formed",
            "gateway.payment_known",
            # Our records now attribute deposit_us's paypal charge to deposit_gb too.
            "gateway.no_unreported_charge",
        },
        "deposit_gb",
    ),
]


@pytest.mark.parametrize(
    ("breakage", "expected", "named"),
    [pytest.param(b, e, n, id=i) for i, b, e, n in BREAKAGES],
)
def test_a_broken_invariant_fails_the_check_by_name(
    world: World, breakage: Breakage, expected: set[str], named: str | None
) -> None:
    with breakage(world):
        report = check(world.database_url, world.api)
        assert not report.ok
        assert violated(report) == expected, report.violations
        if named is not None:
            tx_id = world.ids[named]
            assert any(v.transaction_id == tx_id for v in report.violations), report.violations
    # Undone: sound again, so the next breakage is judged on its own.
    assert check(world.database_url, world.api).ok


# -- the command -------------------------------------------------------------------------------
def run_cli(world: World, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYMENTS_")}
    env.update(
        PAYMENTS_DATABASE_URL=world.database_url,
        PAYMENTS_ADMIN_API_KEYS=ADMIN_KEY,
        PAYMENTS_SANDBOX_URL=f"{base_url(world.api)}/sandbox",
    )
    return subprocess.run(
        [sys.executable, "-m", "entrypoints.cli", "check", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_check_command_exits_0_when_sound_and_1_naming_what_broke(world: World) -> None:
    out = run_cli(world)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.startswith("payments check: OK, all invariants hold")
    assert "skipped: kafka (PAYMENTS_KAFKA_BOOTSTRAP_SERVERS not set)" in out.stdout
    with balance_off_by_one(world):
        out = run_cli(world, "--json")
        assert out.returncode == 1, out.stdout + out.stderr
        body = json.loads(out.stdout)
        assert body["ok"] is False
        assert body["invariants"]["ledger.balance_matches_postings"] == 1
        assert body["invariants"]["gateway.outcome_matches"] == 0
        text = run_cli(world, "--no-gateways").stdout
        assert "FAILED" in text
        assert "FAIL (1)   ledger.balance_matches_postings" in text
        assert "user 2 available GBP" in text
        assert "skipped: gateways (--no-gateways)" in text


# -- payments sent straight to a sandbox --------------------------------------------------------
def sandbox_payment(api: httpx.Client, gateway_id: str, **body: object) -> None:
    r = api.post(f"/sandbox/{gateway_id}/payments", json=body, headers=MERCHANT[gateway_id])
    assert r.status_code == 201, r.text


def test_payments_the_gateway_took_without_us_fail_the_check(demo_database_url: str) -> None:
    with serve_api(demo_database_url) as api:
        tx_id = deposit(api, 1, "10.00", "USD").json()["transaction_id"]
        wait_for_status(api, tx_id, "completed")
        wait_for_outbox(demo_database_url)
        assert check(demo_database_url, api).ok
        # Callbacks for these would only be flagged; keep them out of the way.
        behave(api, "paypal", callback_delay_ms=600_000)
        behave(api, "stripe", callback_delay_ms=600_000)
        ghost = str(uuid.uuid4())
        sandbox_payment(
            api,
            "paypal",
            reference=f"{ghost}:1",
            transaction_id=ghost,
            type="deposit",
            amount="99.00",
            currency="USD",
            user_id=1,
        )
        report = check(demo_database_url, api)
        assert violated(report) == {"gateway.payment_known"}
        assert report.violations[0].transaction_id == ghost
        # Our reference charged again at another gateway: twice for one attempt.
        sandbox_payment(
            api,
            "stripe",
            reference=f"{tx_id}:1",
            transaction_id=tx_id,
            type="deposit",
            amount="10.00",
            currency="USD",
            user_id=1,
        )
        report = check(demo_database_url, api)
        assert violated(report) == {"gateway.payment_known", "gateway.reference_charged_once"}
        (twice,) = [v for v in report.violations if v.invariant.endswith("charged_once")]
        assert twice.transaction_id == tx_id
        assert "paypal (completed), stripe (processing)" in twice.detail


def test_money_left_at_an_abandoned_gateway_fails_until_the_reconciler_flags_it(
    demo_database_url: str,
) -> None:
    with serve_api(demo_database_url, PAYMENTS_RECONCILE_INTERVAL_S="0") as api:
        # paypal takes the money but the answer is lost: the deposit falls back to stripe.
        behave(api, "paypal", mode="timeout", callback_delay_ms=50)
        tx = deposit(api, 1, "10.00", "USD").json()
        assert tx["gateway"] == "stripe"
        behave(api, "paypal", mode="ok")
        wait_for_status(api, tx["transaction_id"], "completed")
        wait_for_outbox(demo_database_url)
        report = check(demo_database_url, api)
        assert violated(report) == {"gateway.no_unreported_charge"}
        assert "paypal completed" in report.violations[0].detail
        time.sleep(2.1)  # past the reconcile deadline
        reconcile(api, demo_database_url)
        issues = api.get("/reconciliation/issues", headers=ADMIN).json()
        assert [i["kind"] for i in issues] == ["abandoned_attempt_completed"]
        assert check(demo_database_url, api).ok


def reconcile(api: httpx.Client, database_url: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYMENTS_")}
    env.update(
        PAYMENTS_DATABASE_URL=database_url,
        PAYMENTS_API_KEYS="unused",
        PAYMENTS_ADMIN_API_KEYS=ADMIN_KEY,
        PAYMENTS_ENCRYPTION_KEYS=ENCRYPTION_KEYS,
        PAYMENTS_SANDBOX_URL=f"{base_url(api)}/sandbox",
        PAYMENTS_RECONCILE_AFTER_S="2",
        PAYMENTS_GATEWAY_CONNECT_TIMEOUT_S="0.5",
        PAYMENTS_GATEWAY_READ_TIMEOUT_S="1",
        PAYMENTS_RETRY_BUDGET_S="0.5",
        **{f"PAYMENTS_WEBHOOK_SECRET_{g.upper()}": v for g, v in WEBHOOK_SECRETS.items()},
        **GATEWAY_KEY_ENV,
    )
    out = subprocess.run(
        [sys.executable, "-m", "entrypoints.cli", "reconcile"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]


# -- the event stream on Kafka ------------------------------------------------------------------
def test_the_event_stream_is_complete_and_in_order_after_traffic(
    demo_database_url: str, kafka_bootstrap: str, kafka_topic_prefix: str
) -> None:
    with serve_api(
        demo_database_url,
        PAYMENTS_KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        PAYMENTS_KAFKA_TOPIC_PREFIX=kafka_topic_prefix,
        PAYMENTS_KAFKA_GROUP_ID=f"{kafka_topic_prefix}callbacks",
        PAYMENTS_KAFKA_PARTITIONS="3",
    ) as api:
        made = [deposit(api, 1 + n % 3, "20.00", ("USD", "GBP", "EUR")[n % 3]) for n in range(6)]
        tx_ids = [r.json()["transaction_id"] for r in made]
        for tx_id in tx_ids:
            wait_for_status(api, tx_id, "completed", timeout_s=15)
        out = withdraw(api, 1, "5.00", "USD", destination=IBAN).json()["transaction_id"]
        wait_for_status(api, out, "completed", timeout_s=15)
        wait_for_outbox(demo_database_url, timeout_s=30)
        report = check(demo_database_url, api, kafka=(kafka_bootstrap, kafka_topic_prefix))
        assert report.ok, report.violations
        assert "kafka.in_order" in report.invariants
        assert report.counts["kafka_events"] >= 3 * 7


async def _produce(bootstrap: str, prefix: str, messages: list[tuple[str, bytes]]) -> None:
    from aiokafka import AIOKafkaProducer

    from adapters.kafka.publisher import ensure_topics

    await ensure_topics(bootstrap, prefix, partitions=3)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        for key, value in messages:
            await producer.send_and_wait(prefix + TRANSACTIONS_TOPIC, value, key=key.encode())
    finally:
        await producer.stop()


def test_a_synthetic_out_of_order_or_gapped_stream_fails(
    demo_database_url: str, kafka_bootstrap: str, kafka_topic_prefix: str
) -> None:
    # Real transactions, published in-process; their events are then replayed by
    # hand onto a fresh topic, once in order, once reordered, once with a gap.
    with serve_api(demo_database_url) as api:
        ids = [deposit(api, 1, "3.00", "USD").json()["transaction_id"] for _ in range(3)]
        for tx_id in ids:
            wait_for_status(api, tx_id, "completed")
        wait_for_outbox(demo_database_url)
    with psycopg.connect(demo_database_url) as conn:
        rows = conn.execute(
            "SELECT transaction_id::text, version, payload FROM outbox "
            "WHERE topic = %s ORDER BY id",
            (TRANSACTIONS_TOPIC,),
        ).fetchall()
    messages = [(tx, version, json.dumps(payload).encode()) for tx, version, payload in rows]
    victim = ids[1]

    def replay(prefix: str, reorder: Callable[[list[tuple[str, int, bytes]]], list[Any]]) -> str:
        asyncio.run(
            _produce(kafka_bootstrap, prefix, [(tx, value) for tx, _, value in reorder(messages)])
        )
        return prefix

    def swapped(ms: list[tuple[str, int, bytes]]) -> list[tuple[str, int, bytes]]:
        # The victim's version 3 overtakes its version 2.
        mine = [m for m in ms if m[0] == victim]
        others = [m for m in ms if m[0] != victim]
        return [*others, mine[0], mine[2], mine[1]]

    def gapped(ms: list[tuple[str, int, bytes]]) -> list[tuple[str, int, bytes]]:
        return [m for m in ms if (m[0], m[1]) != (victim, 2)]

    in_order = replay(f"{kafka_topic_prefix}ok.", list)
    reordered = replay(f"{kafka_topic_prefix}swap.", swapped)
    with_gap = replay(f"{kafka_topic_prefix}gap.", gapped)

    assert check(demo_database_url, None, kafka=(kafka_bootstrap, in_order)).ok
    report = check(demo_database_url, None, kafka=(kafka_bootstrap, reordered))
    assert violated(report) == {"kafka.in_order"}
    assert [v.transaction_id for v in report.violations] == [victim]
    assert "version 2 first appears after version 3" in report.violations[0].detail
    report = check(demo_database_url, None, kafka=(kafka_bootstrap, with_gap))
    assert violated(report) == {"kafka.complete"}
    assert [v.transaction_id for v in report.violations] == [victim]
    # A broker that does not answer is a failure too, never a pass.
    report = check(demo_database_url, None, kafka=("127.0.0.1:1", in_order))
    assert violated(report) == {"kafka.readable"}
