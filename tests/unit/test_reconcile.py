"""The reconciler over in-memory adapters with scripted gateway inquiries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from application.deposit import DepositCommand
from application.ports import GatewayResult, GatewayStatus
from application.reconcile import Reconcile
from application.settle import FinalStatus, SettleCommand
from application.withdraw import WithdrawCommand
from domain.ledger import AccountKind
from domain.transaction import AttemptOutcome, Transaction, TransactionStatus
from tests.unit.conftest import World

AMBIGUOUS = GatewayResult(outcome=AttemptOutcome.AMBIGUOUS, error_code="timeout")


def reconciler(world: World) -> Reconcile:
    return Reconcile(
        world.container.uow_factory(),
        world.container.gateways(),
        world.container.clock(),
        stuck_after_s=0,
    )


def age(world: World, tx: Transaction) -> None:
    """Make a stored transaction look old enough to be stuck."""
    stored = world.store.transactions[tx.id]
    stored.updated_at = datetime.now(UTC) - timedelta(minutes=10)


def balance(world: World, kind: AccountKind) -> int:
    return world.store.balances.get((1, "USD", kind), 0)


async def ambiguous_withdrawal(world: World) -> Transaction:
    deposit = await world.container.deposit().execute(DepositCommand(1, "100.00", "USD"))
    await world.container.settle().execute(SettleCommand(deposit.id, FinalStatus.COMPLETED, "paid"))
    world.gateways["paypal"].will(AMBIGUOUS)
    tx = await world.container.withdraw().execute(WithdrawCommand(1, "60.00", "USD"))
    assert tx.status is TransactionStatus.PROCESSING
    age(world, tx)
    return tx


@pytest.mark.parametrize(
    ("gateway_says", "status", "available", "held"),
    [
        ("completed", TransactionStatus.COMPLETED, 4000, 0),
        ("failed", TransactionStatus.FAILED, 10000, 0),
    ],
)
async def test_an_ambiguous_withdrawal_is_settled_by_the_gateways_answer(
    world: World, gateway_says: str, status: TransactionStatus, available: int, held: int
) -> None:
    tx = await ambiguous_withdrawal(world)
    world.gateways["paypal"].statuses[tx.attempts[0].reference] = GatewayStatus(
        found=True, status=gateway_says, reference_id="PP-9", amount_minor=6000, currency="USD"
    )
    report = await reconciler(world).execute()
    stored = world.store.transactions[tx.id]
    assert stored.status is status
    assert (balance(world, AccountKind.AVAILABLE), balance(world, AccountKind.HELD)) == (
        available,
        held,
    )
    assert report.checked >= 1
    history = [a for _, i, a in world.store.audit if i == tx.id]
    assert history[-1].actor == "reconciler"


async def test_a_reference_the_gateway_never_got_fails_and_releases(world: World) -> None:
    tx = await ambiguous_withdrawal(world)
    report = await reconciler(world).execute()
    assert world.store.transactions[tx.id].status is TransactionStatus.FAILED
    assert balance(world, AccountKind.HELD) == 0
    assert report.failed == 1


async def test_an_unreachable_gateway_leaves_it_for_the_next_round(world: World) -> None:
    tx = await ambiguous_withdrawal(world)
    world.gateways["paypal"].unreachable = True
    report = await reconciler(world).execute()
    assert world.store.transactions[tx.id].status is TransactionStatus.PROCESSING
    assert report.unreachable == 1


async def test_an_amount_mismatch_is_flagged_not_applied(world: World) -> None:
    tx = await ambiguous_withdrawal(world)
    world.gateways["paypal"].statuses[tx.attempts[0].reference] = GatewayStatus(
        found=True, status="completed", amount_minor=9999, currency="USD"
    )
    report = await reconciler(world).execute()
    assert world.store.transactions[tx.id].status is TransactionStatus.PROCESSING
    assert [i.kind for i in world.store.issues] == ["amount_mismatch"]
    assert report.flagged == 1


async def test_a_gateway_still_processing_leaves_it_open(world: World) -> None:
    tx = await ambiguous_withdrawal(world)
    world.gateways["paypal"].statuses[tx.attempts[0].reference] = GatewayStatus(
        found=True, status="processing", amount_minor=6000, currency="USD"
    )
    await reconciler(world).execute()
    assert world.store.transactions[tx.id].status is TransactionStatus.PROCESSING


async def test_a_stuck_accepted_payment_is_asked_about_by_the_gateways_own_id(
    world: World,
) -> None:
    tx = await world.container.deposit().execute(DepositCommand(1, "10.00", "USD"))
    assert tx.status is TransactionStatus.PROCESSING
    assert tx.reference_id is not None
    age(world, tx)
    world.gateways["paypal"].statuses[tx.attempts[0].reference] = GatewayStatus(
        found=True,
        status="completed",
        reference_id=tx.reference_id,
        amount_minor=1000,
        currency="USD",
    )

    await reconciler(world).execute()

    # Families that look payments up by their own id (Stripe) need it.
    assert world.gateways["paypal"].inquired_ids == [tx.reference_id]
    assert world.store.transactions[tx.id].status is TransactionStatus.COMPLETED


async def test_an_attempt_whose_answer_was_lost_is_asked_about_without_an_id(
    world: World,
) -> None:
    await ambiguous_withdrawal(world)

    await reconciler(world).execute()

    assert world.gateways["paypal"].inquired_ids == [None]


async def test_money_taken_at_a_gateway_we_fell_back_from_is_flagged(world: World) -> None:
    world.gateways["paypal"].will(AMBIGUOUS)
    tx = await world.container.deposit().execute(DepositCommand(1, "10.00", "USD"))
    assert tx.gateway_id == "stripe"
    await world.container.settle().execute(SettleCommand(tx.id, FinalStatus.COMPLETED, "paid"))
    age(world, tx)
    world.gateways["paypal"].statuses[tx.attempts[0].reference] = GatewayStatus(
        found=True, status="completed", amount_minor=1000, currency="USD"
    )
    await reconciler(world).execute()
    assert [(i.kind, i.gateway_id) for i in world.store.issues] == [
        ("abandoned_attempt_completed", "paypal")
    ]
    await reconciler(world).execute()  # checked once only
    assert len(world.store.issues) == 1
    assert world.gateways["paypal"].inquired.count(tx.attempts[0].reference) == 1


async def test_fresh_transactions_are_left_alone(world: World) -> None:
    world.gateways["paypal"].will(AMBIGUOUS)
    await world.container.deposit().execute(DepositCommand(1, "10.00", "USD"))
    slow = Reconcile(
        world.container.uow_factory(),
        world.container.gateways(),
        world.container.clock(),
        stuck_after_s=300,
    )
    report = await slow.execute()
    assert report.checked == 0
