"""Ledger contract: balances, and the no-overdraft rule of domain/funds.py, on both adapters."""

from __future__ import annotations

import pytest

from domain.errors import InsufficientFunds
from domain.ledger import Balance
from domain.transaction import Transaction, TransactionType
from tests.support.port_contracts import NOW, SECOND, Backend, accept, fund, new_tx, store


def withdrawal(user_id: int, minor: int, currency: str = "USD") -> Transaction:
    return new_tx(user_id=user_id, minor=minor, currency=currency, type=TransactionType.WITHDRAWAL)


async def balances(backend: Backend, user_id: int) -> list[Balance]:
    async with backend.uow() as unit:
        return sorted(await unit.ledger.balances(user_id), key=lambda b: b.currency)


async def test_a_user_without_postings_has_no_balances(backend: Backend) -> None:
    assert await balances(backend, 1) == []


async def test_a_completed_deposit_is_available(backend: Backend) -> None:
    await fund(backend, 1, 5_000)
    await fund(backend, 1, 700, "EUR")
    assert await balances(backend, 1) == [Balance("EUR", 700, 0), Balance("USD", 5_000, 0)]
    assert await balances(backend, 2) == []


async def test_a_withdrawal_holds_then_pays_out(backend: Backend) -> None:
    await fund(backend, 1, 5_000)
    tx = withdrawal(1, 3_000)
    await store(backend, tx)
    assert await balances(backend, 1) == [Balance("USD", 2_000, 3_000)]

    accept(tx, now=NOW + SECOND)
    tx.complete(message="paid out", now=NOW + 2 * SECOND)
    await store(backend, tx)
    assert await balances(backend, 1) == [Balance("USD", 2_000, 0)]


async def test_a_failed_withdrawal_releases_the_hold(backend: Backend) -> None:
    await fund(backend, 1, 5_000)
    tx = withdrawal(1, 5_000)
    await store(backend, tx)
    tx.fail(message="refused", now=NOW + SECOND)
    await store(backend, tx)
    assert await balances(backend, 1) == [Balance("USD", 5_000, 0)]


async def test_an_overdraft_is_refused_and_nothing_is_kept(backend: Backend) -> None:
    await fund(backend, 1, 1_000)
    tx = withdrawal(1, 1_001)
    async with backend.uow() as unit:
        await unit.transactions.add(tx)
        with pytest.raises(InsufficientFunds):
            await unit.commit()
    async with backend.uow() as unit:
        assert await unit.transactions.get(tx.id) is None
    assert await balances(backend, 1) == [Balance("USD", 1_000, 0)]


async def test_a_withdrawal_without_any_account_is_refused(backend: Backend) -> None:
    async with backend.uow() as unit:
        await unit.transactions.add(withdrawal(2, 1, "GBP"))
        with pytest.raises(InsufficientFunds):
            await unit.commit()
    assert await balances(backend, 2) == []


async def test_two_withdrawals_in_one_commit_cannot_spend_the_money_twice(
    backend: Backend,
) -> None:
    await fund(backend, 1, 1_000)
    async with backend.uow() as unit:
        await unit.transactions.add(withdrawal(1, 600))
        await unit.transactions.add(withdrawal(1, 600))
        with pytest.raises(InsufficientFunds):
            await unit.commit()
    assert await balances(backend, 1) == [Balance("USD", 1_000, 0)]


async def test_a_commit_is_checked_on_the_balances_it_ends_with(backend: Backend) -> None:
    # The withdrawal is tracked first, the deposit that covers it second: the
    # database nets a commit's moves per account, so the order does not matter.
    deposit = new_tx(user_id=1, minor=1_000)
    accept(deposit)
    await store(backend, deposit)
    async with backend.uow() as unit:
        await unit.transactions.add(withdrawal(1, 800))
        loaded = await unit.transactions.get(deposit.id)
        assert loaded is not None
        loaded.complete(message="paid", now=NOW + SECOND)
        await unit.commit()
    assert await balances(backend, 1) == [Balance("USD", 200, 800)]
