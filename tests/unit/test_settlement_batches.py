"""Callbacks are applied in batches; one that cannot be applied holds nobody up."""

from __future__ import annotations

import pytest

from adapters.memory.unit_of_work import BALANCE_MAX, MemoryUnitOfWork
from adapters.system import SystemClock
from application.apply_callback import ApplyCallbacks, RetryPolicy
from application.deposit import DepositCommand
from application.ports import GatewayCallback
from application.retry_callbacks import RetryCallbacks
from application.settlement_backlog import GetSettlementBacklog
from domain.ledger import AccountKind
from domain.transaction import Transaction, TransactionStatus
from tests.unit.conftest import World

# No backoff wait: a failed callback is due again at once.
AT_ONCE = RetryPolicy(max_attempts=3, base_s=0.0)


async def deposit(world: World, user_id: int, currency: str) -> Transaction:
    return await world.container.deposit().execute(DepositCommand(user_id, "10.00", currency))


async def received(world: World, *callbacks: GatewayCallback) -> None:
    async with MemoryUnitOfWork(world.store) as uow:
        for callback in callbacks:
            await uow.inbox.add(callback, b"raw")
        await uow.commit()


def completed(
    tx: Transaction, gateway: str, event_id: str, reference: str | None = None
) -> GatewayCallback:
    return GatewayCallback(
        gateway, event_id, tx.id, "completed", reference or tx.reference_id, "paid"
    )


def apply_callbacks(world: World, retry: RetryPolicy = AT_ONCE) -> ApplyCallbacks:
    return ApplyCallbacks(lambda: MemoryUnitOfWork(world.store), SystemClock(), retry)


@pytest.fixture
async def overflowing(world: World) -> tuple[World, list[GatewayCallback]]:
    """Three deposits; the second one's credit would overflow its user's balance."""
    good_us = await deposit(world, 1, "USD")
    bad_gb = await deposit(world, 2, "GBP")
    good_jp = await deposit(world, 4, "JPY")
    # A hostile user pushed their balance to the top of the stored range.
    world.store.balances[(2, "GBP", AccountKind.AVAILABLE)] = BALANCE_MAX - 10
    callbacks = [
        completed(good_us, "paypal", "e1"),
        completed(bad_gb, "stripe", "e2"),
        completed(good_jp, "paypal", "e3"),
    ]
    await received(world, *callbacks)
    return world, callbacks


async def test_one_failing_callback_does_not_stop_the_rest_of_its_batch(
    overflowing: tuple[World, list[GatewayCallback]],
) -> None:
    world, callbacks = overflowing
    results = await apply_callbacks(world).execute(callbacks)

    assert results == ["applied", "retrying", "applied"]
    status = {tx.user_id: tx.status for tx in world.store.transactions.values()}
    assert status == {
        1: TransactionStatus.COMPLETED,
        2: TransactionStatus.PROCESSING,
        4: TransactionStatus.COMPLETED,
    }
    assert world.store.balances[(1, "USD", AccountKind.AVAILABLE)] == 1000
    assert world.store.balances[(2, "GBP", AccountKind.AVAILABLE)] == BALANCE_MAX - 10
    row = world.store.inbox[("stripe", "e2")]
    assert (row.status, row.apply_attempts) == ("received", 1)
    assert row.next_attempt_at is not None


async def test_a_failing_callback_is_retried_then_quarantined_as_an_issue(
    overflowing: tuple[World, list[GatewayCallback]],
) -> None:
    world, callbacks = overflowing
    apply = apply_callbacks(world)
    await apply.execute(callbacks)
    retry = RetryCallbacks(lambda: MemoryUnitOfWork(world.store), apply, SystemClock())

    assert await retry.execute() == 1  # attempt 2: still failing, retried again
    assert world.store.inbox[("stripe", "e2")].status == "received"
    assert await retry.execute() == 1  # attempt 3 of 3: quarantined
    assert await retry.execute() == 0  # nothing left to retry

    row = world.store.inbox[("stripe", "e2")]
    assert (row.status, row.apply_attempts) == ("quarantined", 3)
    [issue] = world.store.issues
    assert issue.kind == "callback_quarantined:e2"
    assert "LedgerLimitExceeded" in issue.detail
    assert issue.gateway_id == "stripe"


async def test_the_backlog_counts_callbacks_waiting_for_a_retry_until_quarantined(
    overflowing: tuple[World, list[GatewayCallback]],
) -> None:
    world, callbacks = overflowing
    backlog = GetSettlementBacklog(lambda: MemoryUnitOfWork(world.store), threshold_s=0.0)
    before = await backlog.execute()
    assert before.backlog.unapplied == 3

    apply = apply_callbacks(world)
    await apply.execute(callbacks)
    during = await backlog.execute()
    assert (during.backlog.unapplied, during.degraded) == (1, True)

    retry = RetryCallbacks(lambda: MemoryUnitOfWork(world.store), apply, SystemClock())
    while await retry.execute():
        pass
    after = await backlog.execute()
    assert (after.backlog.unapplied, after.degraded) == (0, False)


async def test_a_callback_delivered_twice_in_one_batch_credits_once(world: World) -> None:
    tx = await deposit(world, 1, "USD")
    callback = completed(tx, "paypal", "e1")
    await received(world, callback)

    results = await apply_callbacks(world).execute([callback, callback])

    assert results == ["applied", "applied"]
    assert world.store.balances[(1, "USD", AccountKind.AVAILABLE)] == 1000
    assert len(world.store.journals) == 1


async def test_two_callbacks_for_one_transaction_in_a_batch_apply_in_order(world: World) -> None:
    tx = await deposit(world, 1, "USD")
    first, second = completed(tx, "paypal", "e1"), completed(tx, "paypal", "e2")
    await received(world, first, second)

    assert await apply_callbacks(world).execute([first, second]) == ["applied", "duplicate"]
    assert world.store.transactions[tx.id].version == 3
    assert world.store.balances[(1, "USD", AccountKind.AVAILABLE)] == 1000


async def test_a_batch_is_one_commit(world: World) -> None:
    txs = [await deposit(world, 1, "USD") for _ in range(5)]
    callbacks = [completed(tx, "paypal", f"e{n}") for n, tx in enumerate(txs)]
    await received(world, *callbacks)
    before = world.store.commits

    await apply_callbacks(world).execute(callbacks)

    assert world.store.commits - before == 1
    assert world.store.balances[(1, "USD", AccountKind.AVAILABLE)] == 5000


def test_retry_delays_grow_and_are_capped() -> None:
    policy = RetryPolicy(max_attempts=10, base_s=1.0, cap_s=8.0)
    for attempt, step in ((1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (9, 8.0)):
        assert step / 2 <= policy.delay_s(attempt) <= step


async def test_a_callback_for_another_attempt_is_flagged_while_its_batch_applies(
    world: World,
) -> None:
    ours, theirs = await deposit(world, 1, "USD"), await deposit(world, 1, "USD")
    callbacks = [
        completed(ours, "paypal", "e1"),
        completed(theirs, "paypal", "e2", reference="paypal-another-payment"),
    ]
    await received(world, *callbacks)

    assert await apply_callbacks(world).execute(callbacks) == ["applied", "flagged"]
    assert world.store.transactions[theirs.id].status is TransactionStatus.PROCESSING
    assert world.store.balances[(1, "USD", AccountKind.AVAILABLE)] == 1000
    assert [(i.transaction_id, i.kind) for i in world.store.issues] == [(theirs.id, "callback:e2")]
