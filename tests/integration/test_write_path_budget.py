"""The write path's budget, counted on the wire: statements, round trips, commits.

libpq's protocol trace of the service's one pooled connection is read per
phase: every ``ReadyForQuery`` the server sends ends one round trip, every
``Execute``/``Query`` the client sends is a statement. Commits are counted
by the server: the transaction ids it handed out during the phase (only a
transaction that writes gets one; a lone statement in autocommit commits
without any ``COMMIT`` on the wire). The budget (DESIGN.md, "Write path and settlement"):
a deposit request is two units of work, each one flush; receiving a callback
is one unit; applying a batch of callbacks is one read and one flush.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncGenerator, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

import httpx
import psycopg
import pytest
from dependency_injector import providers
from psycopg import pq
from psycopg_pool import AsyncConnectionPool

from adapters.crypto.keyring import Keyring
from adapters.gateways.signing_json import sign_json
from adapters.messages import callback_from_envelope
from adapters.postgres.pool import open_pool
from adapters.postgres.unit_of_work import unit_of_work_factory
from adapters.system import SystemClock
from application.apply_callback import ApplyCallbacks
from entrypoints.container import make_container
from entrypoints.http.app import create_app
from entrypoints.serve import build_sandbox
from tests.support.api import ENCRYPTION_KEYS, WEBHOOK_SECRETS, behave, deposit, make_settings
from tests.support.server import free_port, running


@dataclass(frozen=True)
class Counts:
    round_trips: int
    statements: int
    commits: int = 0


def next_xid(database_url: str) -> int:
    """The next transaction id the server will assign (a read takes none)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute("SELECT pg_snapshot_xmax(pg_current_snapshot())::text").fetchone()
    assert row is not None
    return int(row[0])


class Trace:
    """libpq's protocol trace of one connection, read phase by phase."""

    def __init__(self, directory: Path) -> None:
        self._dir = directory
        self._n = 0
        self.conn: psycopg.AsyncConnection[Any] | None = None
        self._file: IO[str] | None = None

    def start(self) -> None:
        assert self.conn is not None
        self._n += 1
        self._file = open(self._dir / f"trace-{self._n}.txt", "w")  # noqa: SIM115
        self.conn.pgconn.trace(self._file.fileno())
        self.conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)

    def stop(self) -> Counts:
        assert self.conn is not None
        assert self._file is not None
        self.conn.pgconn.untrace()  # flushes libpq's buffer
        self._file.close()
        text = (self._dir / f"trace-{self._n}.txt").read_text()
        return Counts(
            round_trips=len(re.findall(r"^B\t\d+\tReadyForQuery", text, re.M)),
            statements=len(re.findall(r"^F\t\d+\t(?:Execute|Query)\b", text, re.M)),
        )


async def traced_pool(url: str, trace: Trace) -> AsyncGenerator[AsyncConnectionPool, None]:
    """A pool of exactly one connection, whose protocol is traced."""
    pool = await open_pool(url, min_size=1, max_size=1)
    async with pool.connection() as conn:
        trace.conn = conn
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
def traced_api(demo_database_url: str, tmp_path: Path) -> Iterator[tuple[httpx.Client, Trace]]:
    port = free_port()
    # No background workers: only the requests under test touch the database.
    settings = make_settings(demo_database_url, port, PAYMENTS_RUN_WORKERS="0")
    container = make_container(settings)
    trace = Trace(tmp_path)
    container.db_pool.override(providers.Resource(traced_pool, demo_database_url, trace))
    sandbox, sender = build_sandbox(settings)
    app = create_app(settings, container, sandbox, on_shutdown=[sender.aclose])
    with running(app, port) as base, httpx.Client(base_url=base, timeout=15) as client:
        yield client, trace


def test_a_deposit_and_its_callback_stay_within_the_write_budget(
    traced_api: tuple[httpx.Client, Trace], demo_database_url: str, tmp_path: Path
) -> None:
    api, trace = traced_api
    behave(api, "paypal", callback_delay_ms=600_000)  # we deliver the callback ourselves
    deposit(api, 1, "1.00", "USD")  # warms the route cache and prepared statements

    xid = next_xid(demo_database_url)
    trace.start()
    answer = deposit(api, 1, "2.00", "USD")
    request = replace(trace.stop(), commits=next_xid(demo_database_url) - xid)
    assert answer.status_code == 201, answer.text
    tx_id = answer.json()["transaction_id"]
    # Intent before the gateway call, outcome after: one statement each.
    assert request.commits == 2
    assert request.round_trips == 2, request
    assert request.statements == 2, request

    body = json.dumps(
        {
            "event_id": "evt_budget",
            "transaction_id": tx_id,
            "status": "completed",
            "reference_id": answer.json()["reference_id"],
        }
    ).encode()
    signature = sign_json(body, [WEBHOOK_SECRETS["paypal"]], int(time.time()))
    xid = next_xid(demo_database_url)
    trace.start()
    received = api.post(
        "/callback/paypal",
        content=body,
        headers={"Content-Type": "application/json", "X-Signature": signature},
    )
    receiving = replace(trace.stop(), commits=next_xid(demo_database_url) - xid)
    assert received.status_code == 200, received.text
    # Inbox row (one round trip: its insert answers whether it is new), then
    # the outbox row and COMMIT.
    assert receiving.commits == 1
    assert receiving.round_trips <= 2, receiving

    applying = asyncio.run(apply_received(demo_database_url, tmp_path))
    # Lock the inbox rows; lock the transactions with their attempts; one flush.
    assert applying.commits == 1
    assert applying.round_trips <= 3, applying
    with psycopg.connect(demo_database_url) as conn:
        row = conn.execute("SELECT status FROM transactions WHERE id = %s", (tx_id,)).fetchone()
    assert row == ("completed",)
    print(f"deposit {request}, callback {receiving}, apply {applying}")  # for docs/performance.md


async def apply_received(database_url: str, directory: Path) -> Counts:
    """Apply the queued callback the way the worker does, on a traced connection."""
    trace = Trace(directory / "apply")
    (directory / "apply").mkdir()
    async for pool in traced_pool(database_url, trace):
        async with pool.connection() as conn:
            cur = await conn.execute(
                "SELECT payload FROM outbox WHERE topic = 'payments.callbacks.v1'"
            )
            [row] = await cur.fetchall()
        callback = callback_from_envelope(row[0])
        apply = ApplyCallbacks(
            unit_of_work_factory(pool, Keyring.parse(ENCRYPTION_KEYS)), SystemClock()
        )
        xid = next_xid(database_url)
        trace.start()
        assert await apply.execute([callback]) == ["applied"]
        return replace(trace.stop(), commits=next_xid(database_url) - xid)
    raise AssertionError("unreachable")
