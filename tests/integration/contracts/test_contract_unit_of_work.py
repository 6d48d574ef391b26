"""UnitOfWork contract: savepoints keep what succeeded and undo what failed."""

from __future__ import annotations

import pytest

from application.ports import UnitOfWork
from domain.errors import InsufficientFunds
from domain.ledger import Balance
from domain.transaction import TransactionStatus, TransactionType
from tests.support.port_contracts import NOW, SECOND, Backend, fund, load, new_tx, store


async def fail_then_crash(unit: UnitOfWork, transaction_id: str) -> None:
    async with unit.savepoint():
        tx = await unit.transactions.get(transaction_id)
        assert tx is not None
        tx.fail(message="undone", now=NOW + SECOND)
        raise RuntimeError("boom")


async def test_a_failed_savepoint_undoes_only_its_own_changes(backend: Backend) -> None:
    a, b = new_tx(), new_tx()
    await store(backend, a, b)
    async with backend.uow() as unit:
        async with unit.savepoint():
            loaded_a = await unit.transactions.get(a.id)
            assert loaded_a is not None
            loaded_a.fail(message="kept", now=NOW + SECOND)
        with pytest.raises(RuntimeError, match="boom"):
            await fail_then_crash(unit, b.id)
        reread = await unit.transactions.get(b.id)
        assert reread is not None
        assert reread.status is TransactionStatus.PENDING
        await unit.commit()
    assert (await load(backend, a.id)).message == "kept"
    assert (await load(backend, b.id)).status is TransactionStatus.PENDING
    assert [t for t, _ in await backend.outbox()] == [
        "transaction.created",
        "transaction.created",
        "transaction.failed",
    ]


async def test_an_overdraft_in_a_savepoint_leaves_the_others_booked(backend: Backend) -> None:
    await fund(backend, 1, 1_000)
    kept = new_tx(user_id=1, minor=700, type=TransactionType.WITHDRAWAL)
    refused = new_tx(user_id=1, minor=700, type=TransactionType.WITHDRAWAL)
    async with backend.uow() as unit:
        async with unit.savepoint():
            await unit.transactions.add(kept)
        with pytest.raises(InsufficientFunds):
            async with unit.savepoint():
                await unit.transactions.add(refused)
        await unit.commit()
    async with backend.uow() as unit:
        assert await unit.ledger.balances(1) == [Balance("USD", 300, 700)]
        assert await unit.transactions.get(refused.id) is None
        assert await unit.transactions.get(kept.id) is not None
