"""TransactionRepository contract: the same answers from the fake and PostgreSQL."""

from __future__ import annotations

import pytest

from application.ports import PageCursor
from domain.errors import ConcurrentUpdate
from domain.transaction import AttemptOutcome, TransactionStatus
from tests.support.port_contracts import NOW, SECOND, Backend, accept, load, new_tx, store


async def test_an_added_transaction_is_read_back_with_its_attempts(backend: Backend) -> None:
    tx = new_tx(minor=123_456, currency="JPY", user_id=4)
    accept(tx, "stripe")
    await store(backend, tx)

    loaded = await load(backend, tx.id)
    assert (loaded.status, loaded.version, loaded.loaded_version) == (
        TransactionStatus.PROCESSING,
        tx.version,
        tx.version,
    )
    assert (loaded.money, loaded.gateway_id, loaded.reference_id) == (
        tx.money,
        "stripe",
        f"ref-{tx.id}",
    )
    assert [(a.number, a.gateway_id, a.outcome) for a in loaded.attempts] == [
        (1, "stripe", AttemptOutcome.ACCEPTED)
    ]
    assert loaded.events == []


async def test_an_unknown_transaction_is_none(backend: Backend) -> None:
    async with backend.uow() as unit:
        assert await unit.transactions.get(new_tx().id) is None
        assert await unit.transactions.get_many([new_tx().id]) == {}


async def test_nothing_is_kept_without_commit(backend: Backend) -> None:
    tx = new_tx()
    async with backend.uow() as unit:
        await unit.transactions.add(tx)
    async with backend.uow() as unit:
        assert await unit.transactions.get(tx.id) is None
    assert await backend.outbox() == []


async def test_a_stale_copy_loses_with_concurrent_update(backend: Backend) -> None:
    tx = new_tx()
    await store(backend, tx)
    first, second = await load(backend, tx.id), await load(backend, tx.id)

    first.fail(message="first writer", now=NOW + SECOND)
    await store(backend, first)
    second.fail(message="second writer", now=NOW + 2 * SECOND)
    async with backend.uow() as unit:
        await unit.transactions.add(second)
        with pytest.raises(ConcurrentUpdate):
            await unit.commit()

    stored = await load(backend, tx.id)
    assert (stored.message, stored.version) == ("first writer", 2)
    assert await backend.outbox() == [
        ("transaction.created", tx.id),
        ("transaction.failed", tx.id),
    ]


async def test_adding_the_same_new_transaction_twice_is_a_conflict(backend: Backend) -> None:
    tx = new_tx()
    await store(backend, tx)
    again = new_tx()
    again.id = tx.id
    async with backend.uow() as unit:
        await unit.transactions.add(again)
        with pytest.raises(ConcurrentUpdate):
            await unit.commit()
    assert (await load(backend, tx.id)).money == tx.money


async def test_get_many_returns_those_that_exist(backend: Backend) -> None:
    a, b = new_tx(), new_tx()
    await store(backend, a, b)
    async with backend.uow() as unit:
        found = await unit.transactions.get_many([a.id, new_tx().id, b.id], lock=True)
    assert set(found) == {a.id, b.id}


async def test_list_is_newest_first_filtered_and_paged(backend: Backend) -> None:
    txs = [new_tx(user_id=1 + i % 2, now=NOW + i * SECOND) for i in range(5)]
    txs[4].fail(message="no", now=NOW + 10 * SECOND)
    await store(backend, *txs)
    async with backend.uow() as unit:
        first = await unit.transactions.list(user_id=1, status=None, limit=2, after=None)
        last = first[-1]
        rest = await unit.transactions.list(
            user_id=1, status=None, limit=10, after=PageCursor(last.created_at, last.id)
        )
        failed = await unit.transactions.list(
            user_id=None, status=TransactionStatus.FAILED, limit=10, after=None
        )
    assert [t.id for t in first] == [txs[4].id, txs[2].id]
    assert [t.id for t in rest] == [txs[0].id]
    assert [t.id for t in failed] == [txs[4].id]


async def test_stuck_lists_unfinished_transactions_untouched_since(backend: Backend) -> None:
    old, recent, done = new_tx(now=NOW), new_tx(now=NOW + 60 * SECOND), new_tx(now=NOW)
    done.fail(message="no", now=NOW)
    await store(backend, old, recent, done)
    async with backend.uow() as unit:
        stuck = await unit.transactions.stuck(updated_before=NOW + 30 * SECOND, limit=10)
    assert [t.id for t in stuck] == [old.id]


async def test_ambiguous_attempts_are_unreconciled_until_marked(backend: Backend) -> None:
    tx = new_tx()
    attempt = tx.begin_attempt("paypal", NOW)
    tx.settle_attempt(attempt.number, AttemptOutcome.AMBIGUOUS, latency_ms=5)
    tx.fail(message="timeout", now=NOW + SECOND)
    clean = new_tx()
    clean.fail(message="no", now=NOW + SECOND)
    await store(backend, tx, clean)
    window = {"updated_before": NOW + 60 * SECOND, "updated_after": NOW - 60 * SECOND}

    async with backend.uow() as unit:
        found = await unit.transactions.unreconciled(**window, limit=10)
        assert [t.id for t in found] == [tx.id]
        await unit.transactions.mark_reconciled(tx.id, [attempt.number])
        await unit.commit()
    async with backend.uow() as unit:
        assert await unit.transactions.unreconciled(**window, limit=10) == []
