"""The unit of work, transaction repository and outbox against real PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from psycopg_pool import AsyncConnectionPool

from adapters.postgres.pool import open_pool
from adapters.postgres.unit_of_work import PostgresUnitOfWork, unit_of_work_factory
from application.ports import PageCursor, UnitOfWorkFactory
from domain.errors import ConcurrentUpdate, InvalidInput
from domain.money import Money
from domain.transaction import AttemptOutcome, Transaction, TransactionStatus, TransactionType
from tests.support.keys import TEST_KEYRING

NOW = datetime(2025, 3, 4, 12, 30, 15, 123456, tzinfo=UTC)
SECOND = timedelta(seconds=1)


def new_tx(
    *,
    user_id: int = 1,
    minor: int = 10_000,
    currency: str = "USD",
    now: datetime = NOW,
    type: TransactionType = TransactionType.DEPOSIT,
) -> Transaction:
    return Transaction.create(
        transaction_id=str(uuid.uuid4()),
        type=type,
        user_id=user_id,
        money=Money.of_minor(minor, currency),
        now=now,
    )


STORED_FIELDS = (
    "id",
    "type",
    "user_id",
    "money",
    "status",
    "version",
    "created_at",
    "updated_at",
    "gateway_id",
    "reference_id",
    "redirect_url",
    "message",
    "attempts",
)


def state(tx: Transaction) -> dict[str, Any]:
    """Everything stored about a transaction, for whole-value comparison."""
    return {name: getattr(tx, name) for name in STORED_FIELDS}


async def fetch(pool: AsyncConnectionPool, query: str, *params: object) -> list[tuple[Any, ...]]:
    async with pool.connection() as conn:
        cur = await conn.execute(query, params or None)
        return await cur.fetchall()


async def store(uow: UnitOfWorkFactory, *txs: Transaction) -> None:
    async with uow() as unit:
        for tx in txs:
            await unit.transactions.add(tx)
        await unit.commit()


async def load(uow: UnitOfWorkFactory, transaction_id: str) -> Transaction:
    async with uow() as unit:
        tx = await unit.transactions.get(transaction_id)
    assert tx is not None
    return tx


@pytest.fixture
def uow(demo_database_url: str, pool: AsyncConnectionPool) -> Callable[[], PostgresUnitOfWork]:
    return unit_of_work_factory(pool, TEST_KEYRING)


async def test_a_transaction_round_trips_with_its_attempts(uow: UnitOfWorkFactory) -> None:
    tx = new_tx(minor=123_456, currency="JPY", user_id=4)
    tx.begin_attempt("paypal", NOW + SECOND)
    tx.settle_attempt(1, AttemptOutcome.NOT_SENT, latency_ms=12, error_code="connect_refused")
    tx.begin_attempt("stripe", NOW + 2 * SECOND)
    await store(uow, tx)
    assert tx.loaded_version == 1

    tx.settle_attempt(2, AttemptOutcome.ACCEPTED, latency_ms=40)
    tx.mark_processing(
        gateway_id="stripe",
        reference_id="pi_123",
        redirect_url="https://pay.example/pi_123",
        message="Redirect the customer",
        now=NOW + 3 * SECOND,
    )
    async with uow() as unit:
        await unit.transactions.add(tx)
        await unit.commit()
    assert tx.loaded_version == 2

    loaded = await load(uow, tx.id)
    assert state(loaded) == state(tx)
    assert [a.number for a in loaded.attempts] == [1, 2]
    assert loaded.attempts[1].reference == f"{tx.id}:2"
    assert loaded.money == Money.of_minor(123_456, "JPY")
    assert loaded.status is TransactionStatus.PROCESSING
    assert loaded.loaded_version == 2
    assert loaded.events == []


async def test_saving_a_stale_copy_raises_concurrent_update(
    uow: UnitOfWorkFactory, pool: AsyncConnectionPool
) -> None:
    await store(uow, new_tx())
    tx_id = (await fetch(pool, "SELECT id::text FROM transactions"))[0][0]
    first, second = await load(uow, tx_id), await load(uow, tx_id)

    first.fail(message="first writer", now=NOW + SECOND)
    async with uow() as unit:
        await unit.transactions.add(first)
        await unit.commit()

    second.fail(message="second writer", now=NOW + 2 * SECOND)
    async with uow() as unit:
        await unit.transactions.add(second)
        with pytest.raises(ConcurrentUpdate):
            await unit.commit()

    stored = await load(uow, tx_id)
    assert (stored.message, stored.version) == ("first writer", 2)
    events = await fetch(pool, "SELECT event_type FROM outbox ORDER BY id")
    assert events == [("transaction.created",), ("transaction.failed",)]


async def test_events_are_written_to_the_outbox_in_the_same_commit(
    uow: UnitOfWorkFactory, pool: AsyncConnectionPool
) -> None:
    tx = new_tx()
    async with uow() as unit:
        await unit.transactions.add(tx)
        # Not visible to anyone else before the commit.
        assert await fetch(pool, "SELECT count(*) FROM outbox") == [(0,)]
        await unit.commit()

    rows = await fetch(
        pool,
        "SELECT event_id::text, topic, key, event_type, transaction_id::text, version,"
        " payload, published_at FROM outbox",
    )
    assert len(rows) == 1
    event_id, topic, key, event_type, transaction_id, version, payload, published_at = rows[0]
    assert (topic, key, event_type, transaction_id, version, published_at) == (
        "payments.transactions.v1",
        tx.id,
        "transaction.created",
        tx.id,
        1,
        None,
    )
    assert payload == {
        "event_id": event_id,
        "type": "transaction.created",
        "transaction_id": tx.id,
        "version": 1,
        "occurred_at": NOW.isoformat(),
        "data": tx.snapshot(),
    }
    assert payload["data"]["amount"] == "100.00"
    assert tx.events == []  # handed over exactly once


async def add_then_crash(uow: UnitOfWorkFactory, tx: Transaction) -> None:
    async with uow() as unit:
        await unit.transactions.add(tx)
        raise RuntimeError("boom")


async def test_leaving_without_commit_keeps_neither_state_nor_events(
    uow: UnitOfWorkFactory, pool: AsyncConnectionPool
) -> None:
    forgotten, failed = new_tx(), new_tx()
    async with uow() as unit:
        await unit.transactions.add(forgotten)
    with pytest.raises(RuntimeError, match="boom"):
        await add_then_crash(uow, failed)

    assert await fetch(pool, "SELECT count(*) FROM outbox") == [(0,)]
    assert await fetch(pool, "SELECT count(*) FROM transactions") == [(0,)]
    assert await fetch(pool, "SELECT count(*) FROM transaction_attempts") == [(0,)]


async def test_units_of_work_return_their_connection_to_the_pool(
    demo_database_url: str,
) -> None:
    single = await open_pool(demo_database_url, max_size=1, timeout_seconds=1)
    try:
        uow = unit_of_work_factory(single, TEST_KEYRING)
        for _ in range(3):
            async with uow() as unit:
                assert await unit.users.get(1) is not None
            async with uow() as unit:
                stale = new_tx()
                stale.loaded_version = 1  # claims to be stored, but is not: 0 rows match
                stale.fail(message="nobody", now=NOW)
                await unit.transactions.add(stale)
                with pytest.raises(ConcurrentUpdate):
                    await unit.commit()
        assert single.get_stats()["pool_available"] == 1
    finally:
        await single.close()


async def test_get_returns_none_for_unknown_or_malformed_ids(uow: UnitOfWorkFactory) -> None:
    async with uow() as unit:
        assert await unit.transactions.get(str(uuid.uuid4())) is None
        assert await unit.transactions.get("not-a-uuid") is None
        assert await unit.transactions.get("") is None


async def test_list_pages_newest_first_across_equal_timestamps(uow: UnitOfWorkFactory) -> None:
    offsets = [0, 0, 1, 1, 1, 2, -1, 0]
    txs = [new_tx(now=NOW + n * SECOND) for n in offsets]
    await store(uow, *txs)
    expected = sorted(txs, key=lambda t: (t.created_at, uuid.UUID(t.id)), reverse=True)

    pages: list[list[str]] = []
    after: PageCursor | None = None
    while True:
        async with uow() as unit:
            page = await unit.transactions.list(user_id=None, status=None, limit=3, after=after)
        if not page:
            break
        pages.append([t.id for t in page])
        after = PageCursor(created_at=page[-1].created_at, transaction_id=page[-1].id)

    assert [len(p) for p in pages] == [3, 3, 2]
    assert [tx_id for p in pages for tx_id in p] == [t.id for t in expected]


async def test_list_filters_by_user_and_status_and_loads_attempts(
    uow: UnitOfWorkFactory,
) -> None:
    mine, theirs = new_tx(user_id=1), new_tx(user_id=2)
    failed_mine = new_tx(user_id=1, now=NOW + SECOND)
    mine.begin_attempt("paypal", NOW)
    mine.begin_attempt("stripe", NOW)
    failed_mine.fail(message="no gateway", now=NOW + SECOND)
    await store(uow, mine, failed_mine, theirs)

    async with uow() as unit:
        by_user = await unit.transactions.list(user_id=1, status=None, limit=10, after=None)
        pending = await unit.transactions.list(
            user_id=1, status=TransactionStatus.PENDING, limit=10, after=None
        )
        none = await unit.transactions.list(
            user_id=3, status=TransactionStatus.PENDING, limit=10, after=None
        )

    assert [t.id for t in by_user] == [failed_mine.id, mine.id]
    assert [t.id for t in pending] == [mine.id]
    assert [a.gateway_id for a in pending[0].attempts] == ["paypal", "stripe"]
    assert pending[0].loaded_version == 1
    assert none == []


async def test_list_refuses_a_cursor_with_a_malformed_id(uow: UnitOfWorkFactory) -> None:
    cursor = PageCursor(created_at=NOW, transaction_id="nope")
    with pytest.raises(InvalidInput):
        async with uow() as unit:
            await unit.transactions.list(user_id=None, status=None, limit=10, after=cursor)
