"""The closed-loop payout through the real wiring with memory fakes (application/closed_loop.py)."""

from datetime import UTC, datetime, timedelta

from application.deposit import DepositCommand
from application.settle import FinalStatus, SettleCommand
from application.withdraw import WithdrawCommand
from domain.ledger import AccountKind
from domain.transaction import Transaction, TransactionStatus, TransactionType
from tests.unit.conftest import World
from tests.unit.test_withdraw import NOT_SENT


async def deposit_through(world: World, gateway: str, amount: str, hours: int) -> None:
    if gateway == "stripe":
        world.gateways["paypal"].will(NOT_SENT)  # the US tries paypal first
    tx = await world.container.deposit().execute(DepositCommand(1, amount, "USD"))
    assert tx.gateway_id == gateway
    await world.container.settle().execute(SettleCommand(tx.id, FinalStatus.COMPLETED, "ok"))
    # Funding order is by completion: spread them out.
    world.store.transactions[tx.id].updated_at = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(
        hours=hours
    )


def legs_of(world: World, parent: Transaction) -> list[Transaction]:
    found = [t for t in world.store.transactions.values() if t.parent_transaction_id == parent.id]
    return sorted(found, key=lambda t: t.created_at)


async def funded_closed_loop(world: World) -> None:
    await deposit_through(world, "paypal", "60.00", 0)
    await deposit_through(world, "stripe", "40.00", 1)
    world.store.closed_loop["US"] = True
    world.container.route_cache().invalidate()  # as the change's NOTIFY does


async def test_the_parent_holds_once_and_completes_when_every_leg_completed(world: World) -> None:
    await funded_closed_loop(world)
    parent = await world.container.withdraw().execute(WithdrawCommand(1, "80.00", "USD"))
    legs = legs_of(world, parent)
    assert [(leg.gateway_id, leg.money.minor) for leg in legs] == [
        ("stripe", 4000),
        ("paypal", 4000),
    ]
    assert world.store.balances[(1, "USD", AccountKind.HELD)] == 8000
    settle = world.container.settle()
    await settle.execute(SettleCommand(legs[0].id, FinalStatus.COMPLETED, "ok"))
    assert world.store.transactions[parent.id].status is TransactionStatus.PROCESSING
    await settle.execute(SettleCommand(legs[1].id, FinalStatus.COMPLETED, "ok"))
    assert world.store.transactions[parent.id].status is TransactionStatus.COMPLETED
    assert world.store.balances[(1, "USD", AccountKind.HELD)] == 0
    assert world.store.balances[(1, "USD", AccountKind.AVAILABLE)] == 2000


class NoPayoutsAt:
    """GatewayCapabilities: ``gateway`` offers everything but payouts (like stripe_api)."""

    def __init__(self, gateway: str) -> None:
        self._gateway = gateway

    def offers(self, gateway_id: str, operation: TransactionType) -> bool:
        return not (gateway_id == self._gateway and operation is TransactionType.WITHDRAWAL)


async def test_a_source_whose_family_cannot_pay_out_is_skipped(
    world: World,
) -> None:
    world.container.closed_loop.add_kwargs(capabilities=NoPayoutsAt("stripe"))
    await funded_closed_loop(world)
    parent = await world.container.withdraw().execute(WithdrawCommand(1, "80.00", "USD"))
    # paypal's 60.00 back through paypal, stripe's share by the normal route (paypal first).
    legs = legs_of(world, parent)
    assert [leg.money.minor for leg in legs] == [6000, 2000]
    assert all(leg.attempts[-1].gateway_id == "paypal" for leg in legs)


async def test_a_leg_failing_after_acceptance_keeps_its_part_held_and_raises_an_issue(
    world: World,
) -> None:
    await funded_closed_loop(world)
    parent = await world.container.withdraw().execute(WithdrawCommand(1, "80.00", "USD"))
    first, second = legs_of(world, parent)
    settle = world.container.settle()
    await settle.execute(SettleCommand(first.id, FinalStatus.FAILED, "bounced"))
    await settle.execute(SettleCommand(second.id, FinalStatus.COMPLETED, "ok"))
    assert world.store.transactions[parent.id].status is TransactionStatus.PROCESSING
    assert world.store.balances[(1, "USD", AccountKind.HELD)] == 8000  # nothing lost
    assert [i.kind for i in world.store.issues] == [f"leg_failed:{first.id}"]
