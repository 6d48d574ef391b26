from typing import Any

import pytest

from application.deposit import DepositCommand
from application.ports import GatewayResult
from application.settle import FinalStatus, SettleCommand
from application.withdraw import WithdrawCommand
from domain.errors import (
    GatewaysUnavailable,
    InsufficientFunds,
    InvalidInput,
    PaymentDeclined,
)
from domain.ledger import AccountKind
from domain.transaction import AttemptOutcome, Transaction, TransactionStatus
from tests.unit.conftest import World

AMBIGUOUS = GatewayResult(outcome=AttemptOutcome.AMBIGUOUS, error_code="timeout")
DECLINED = GatewayResult(outcome=AttemptOutcome.DECLINED, error_code="refused", message="no")
NOT_SENT = GatewayResult(outcome=AttemptOutcome.NOT_SENT, error_code="connect_failed")


async def funded(world: World, amount: str = "100.00", user_id: int = 1) -> None:
    """A completed deposit credits the available balance."""
    tx = await world.container.deposit().execute(DepositCommand(user_id, amount, "USD"))
    await settle(world, tx, FinalStatus.COMPLETED)


async def settle(world: World, tx: Transaction, status: FinalStatus) -> Any:
    return await world.container.settle().execute(SettleCommand(tx.id, status, f"{status}"))


async def withdraw(world: World, amount: str, **kw: Any) -> Transaction:
    return await world.container.withdraw().execute(WithdrawCommand(1, amount, "USD", **kw))


def balance(world: World, kind: AccountKind, user_id: int = 1) -> int:
    return world.store.balances.get((user_id, "USD", kind), 0)


async def test_a_withdrawal_without_balance_is_refused_and_leaves_no_trace(world: World) -> None:
    with pytest.raises(InsufficientFunds):
        await withdraw(world, "10.00")
    assert world.store.transactions == {}
    assert world.gateways["paypal"].received == []
    assert world.store.outbox == []


async def test_a_completed_deposit_credits_available(world: World) -> None:
    await funded(world, "100.00")
    assert balance(world, AccountKind.AVAILABLE) == 10000


async def test_an_accepted_deposit_credits_nothing_yet(world: World) -> None:
    await world.container.deposit().execute(DepositCommand(1, "100.00", "USD"))
    assert balance(world, AccountKind.AVAILABLE) == 0


async def test_a_withdrawal_holds_its_amount_before_the_gateway_call(world: World) -> None:
    await funded(world)
    tx = await withdraw(world, "60.00")
    assert tx.status is TransactionStatus.PROCESSING
    assert (balance(world, AccountKind.AVAILABLE), balance(world, AccountKind.HELD)) == (4000, 6000)
    balances = await world.container.get_balances().execute(1)
    assert [(b.currency, b.available_minor, b.held_minor) for b in balances] == [
        ("USD", 4000, 6000)
    ]


async def test_completion_pays_the_hold_out(world: World) -> None:
    await funded(world)
    tx = await withdraw(world, "60.00")
    await settle(world, tx, FinalStatus.COMPLETED)
    assert (balance(world, AccountKind.AVAILABLE), balance(world, AccountKind.HELD)) == (4000, 0)


async def test_failure_releases_the_hold(world: World) -> None:
    await funded(world)
    tx = await withdraw(world, "60.00")
    await settle(world, tx, FinalStatus.FAILED)
    assert (balance(world, AccountKind.AVAILABLE), balance(world, AccountKind.HELD)) == (10000, 0)


async def test_a_declined_withdrawal_releases_the_hold_at_once(world: World) -> None:
    await funded(world)
    world.gateways["paypal"].will(DECLINED)
    with pytest.raises(PaymentDeclined):
        await withdraw(world, "60.00")
    assert (balance(world, AccountKind.AVAILABLE), balance(world, AccountKind.HELD)) == (10000, 0)
    assert world.gateways["stripe"].received == []


async def test_not_sent_withdrawals_fall_back(world: World) -> None:
    await funded(world)
    world.gateways["paypal"].will(NOT_SENT)
    tx = await withdraw(world, "10.00")
    assert tx.gateway_id == "stripe"


async def test_an_ambiguous_withdrawal_never_falls_back_and_stays_processing(
    world: World,
) -> None:
    await funded(world)
    world.gateways["paypal"].will(AMBIGUOUS)
    tx = await withdraw(world, "60.00")
    assert tx.status is TransactionStatus.PROCESSING
    assert tx.gateway_id == "paypal"
    assert tx.reference_id is None
    assert world.gateways["stripe"].received == []
    assert balance(world, AccountKind.HELD) == 6000  # still held until the gateway says


async def test_all_gateways_unavailable_releases_the_hold(world: World) -> None:
    await funded(world)
    for gw in world.gateways.values():
        gw.will(NOT_SENT)
    with pytest.raises(GatewaysUnavailable):
        await withdraw(world, "60.00")
    assert (balance(world, AccountKind.AVAILABLE), balance(world, AccountKind.HELD)) == (10000, 0)


async def test_withdrawals_cannot_overspend(world: World) -> None:
    await funded(world, "100.00")
    accepted = 0
    for _ in range(12):
        try:
            await withdraw(world, "10.00")
            accepted += 1
        except InsufficientFunds:
            pass
    assert accepted == 10
    assert balance(world, AccountKind.AVAILABLE) == 0


async def test_the_destination_is_kept_on_the_transaction(world: World) -> None:
    await funded(world)
    tx = await withdraw(world, "1.00", destination={"iban": "DE89370400440532013000"})
    assert world.store.transactions[tx.id].destination == {"iban": "DE89370400440532013000"}
    assert "DE89" not in repr(tx)


@pytest.mark.parametrize(
    "destination", [{}, {"k": "x" * 300}, {"": "v"}, {f"k{i}": "v" for i in range(30)}]
)
async def test_bad_destinations_are_invalid(world: World, destination: dict[str, str]) -> None:
    await funded(world)
    with pytest.raises(InvalidInput):
        await withdraw(world, "1.00", destination=destination)


async def test_settling_twice_is_a_no_op_and_a_contradiction_is_flagged(world: World) -> None:
    tx = await world.container.deposit().execute(DepositCommand(1, "5.00", "USD"))
    first = await settle(world, tx, FinalStatus.COMPLETED)
    again = await settle(world, tx, FinalStatus.COMPLETED)
    contra = await settle(world, tx, FinalStatus.FAILED)
    assert (first.applied, again.applied, again.contradiction) == (True, False, False)
    assert (contra.applied, contra.contradiction) == (False, True)
    assert balance(world, AccountKind.AVAILABLE) == 500  # credited exactly once
    assert world.store.transactions[tx.id].status is TransactionStatus.COMPLETED
