"""Refunds over in-memory adapters with scripted gateways: the use case and its ledger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from application.deposit import DepositCommand
from application.ports import GatewayResult, GatewayStatus
from application.reconcile import Reconcile
from application.refund import RefundCommand
from application.settle import FinalStatus, SettleCommand
from application.withdraw import WithdrawCommand
from domain.errors import (
    GatewaysUnavailable,
    InsufficientFunds,
    InvalidInput,
    NotFound,
    NotRefundable,
    PaymentDeclined,
    RefundExceedsPayment,
)
from domain.ledger import AccountKind
from domain.transaction import AttemptOutcome, Transaction, TransactionStatus, TransactionType
from tests.unit.conftest import World

AMBIGUOUS = GatewayResult(outcome=AttemptOutcome.AMBIGUOUS, error_code="timeout")
DECLINED = GatewayResult(outcome=AttemptOutcome.DECLINED, error_code="refused", message="no")
NOT_SENT = GatewayResult(outcome=AttemptOutcome.NOT_SENT, error_code="connect_failed")


async def completed_deposit(world: World, amount: str = "100.00") -> Transaction:
    tx = await world.container.deposit().execute(DepositCommand(1, amount, "USD"))
    await world.container.settle().execute(SettleCommand(tx.id, FinalStatus.COMPLETED, "paid"))
    return world.store.transactions[tx.id]


async def refund(world: World, deposit_id: str, amount: str | None = None) -> Transaction:
    return await world.container.refund().execute(RefundCommand(deposit_id, amount, "asked"))


def balances(world: World) -> tuple[int, int]:
    def of(kind: AccountKind) -> int:
        return world.store.balances.get((1, "USD", kind), 0)

    return of(AccountKind.AVAILABLE), of(AccountKind.HELD)


def journals(world: World, tx_id: str) -> list[str]:
    return [j.kind for j in world.store.journals if j.transaction_id == tx_id]


async def test_a_refund_holds_then_pays_out_through_the_deposits_gateway(world: World) -> None:
    deposit = await completed_deposit(world)
    tx = await refund(world, deposit.id, "40.00")

    assert (tx.type, tx.parent_transaction_id, tx.status) == (
        TransactionType.REFUND,
        deposit.id,
        TransactionStatus.PROCESSING,
    )
    sent = world.gateways["paypal"].received[-1]
    assert (sent.type, sent.parent_reference, sent.amount) == (
        TransactionType.REFUND,
        deposit.reference_id,
        "40.00",
    )
    assert tx.message == "Refund is being processed"
    assert balances(world) == (6000, 4000)
    await world.container.settle().execute(SettleCommand(tx.id, FinalStatus.COMPLETED, "paid"))
    assert balances(world) == (6000, 0)
    assert journals(world, tx.id) == ["refund.hold", "refund.payout"]
    # Events carry the type and the deposit.
    created = next(e for e in world.store.outbox if e.transaction_id == tx.id)
    assert (created.data["type"], created.data["parent_transaction_id"]) == ("refund", deposit.id)
    assert created.data["message"] == "Refund requested: asked"


async def test_several_parts_up_to_the_deposit_and_no_more(world: World) -> None:
    deposit = await completed_deposit(world)
    await refund(world, deposit.id, "30.00")
    rest = await refund(world, deposit.id)  # all that is left, while the first is open
    assert rest.money.format() == "70.00"
    with pytest.raises(RefundExceedsPayment):
        await refund(world, deposit.id, "0.01")
    details = await world.container.get_transaction().execute(deposit.id)
    assert [r.money.format() for r in details.refunds] == ["30.00", "70.00"]


async def test_more_than_is_left_records_nothing(world: World) -> None:
    deposit = await completed_deposit(world)
    before = dict(world.store.transactions)
    with pytest.raises(RefundExceedsPayment):
        await refund(world, deposit.id, "100.01")
    assert world.store.transactions == before


async def test_a_declined_refund_releases_the_hold_and_no_longer_counts(world: World) -> None:
    deposit = await completed_deposit(world)
    world.gateways["paypal"].will(DECLINED)
    with pytest.raises(PaymentDeclined) as refused:
        await refund(world, deposit.id)
    failed = world.store.transactions[str(refused.value.transaction_id)]
    assert failed.status is TransactionStatus.FAILED
    assert journals(world, failed.id) == ["refund.hold", "refund.release"]
    assert balances(world) == (10000, 0)
    again = await refund(world, deposit.id)  # the failed one gave nothing back
    assert again.money.format() == "100.00"


async def test_an_unavailable_gateway_fails_it_with_no_fallback(world: World) -> None:
    deposit = await completed_deposit(world)
    world.gateways["paypal"].will(NOT_SENT)
    with pytest.raises(GatewaysUnavailable):
        await refund(world, deposit.id, "10.00")
    assert world.gateways["stripe"].received == []
    assert balances(world) == (10000, 0)


async def test_a_lost_answer_stays_processing_and_the_reconciler_settles_it(world: World) -> None:
    deposit = await completed_deposit(world)
    world.gateways["paypal"].will(AMBIGUOUS)
    tx = await refund(world, deposit.id, "25.00")
    assert (tx.status, tx.reference_id) == (TransactionStatus.PROCESSING, None)
    world.gateways["paypal"].statuses[tx.attempts[0].reference] = GatewayStatus(
        found=True, status="completed", reference_id="PP-R1", amount_minor=2500, currency="USD"
    )
    world.store.transactions[tx.id].updated_at = datetime.now(UTC) - timedelta(minutes=10)
    reconciler = Reconcile(
        world.container.uow_factory(),
        world.container.gateways(),
        world.container.clock(),
        stuck_after_s=0,
    )
    await reconciler.execute()
    stored = world.store.transactions[tx.id]
    assert (stored.status, stored.reference_id) == (TransactionStatus.COMPLETED, "PP-R1")
    assert balances(world) == (7500, 0)


async def test_money_already_withdrawn_is_refused_and_nothing_is_recorded(world: World) -> None:
    deposit = await completed_deposit(world)
    await world.container.withdraw().execute(WithdrawCommand(1, "95.00", "USD"))
    calls = len(world.gateways["paypal"].received)
    before = dict(world.store.transactions)
    with pytest.raises(InsufficientFunds):
        await refund(world, deposit.id, "10.00")
    assert world.store.transactions == before
    assert len(world.gateways["paypal"].received) == calls


async def test_only_a_completed_deposit_is_refundable(world: World) -> None:
    processing = await world.container.deposit().execute(DepositCommand(1, "10.00", "USD"))
    with pytest.raises(NotRefundable):
        await refund(world, processing.id)
    deposit = await completed_deposit(world)
    withdrawal = await world.container.withdraw().execute(WithdrawCommand(1, "5.00", "USD"))
    with pytest.raises(NotRefundable):
        await refund(world, withdrawal.id)
    part = await refund(world, deposit.id, "1.00")
    with pytest.raises(NotRefundable):
        await refund(world, part.id)  # a refund is not refunded
    with pytest.raises(NotFound):
        await refund(world, "no-such-transaction")
    with pytest.raises(InvalidInput):
        await refund(world, deposit.id, "1.001")  # the deposit's currency decides the places
    with pytest.raises(InvalidInput):
        await world.container.refund().execute(RefundCommand(deposit.id, "1.00", "a\nb"))
