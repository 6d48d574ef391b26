"""The reconciler settles by the same rule as callbacks: the accepted attempt's reference."""

from __future__ import annotations

from application.deposit import DepositCommand
from application.ports import GatewayStatus
from domain.ledger import AccountKind
from domain.transaction import TransactionStatus
from tests.unit.conftest import World
from tests.unit.test_reconcile import age, reconciler


async def test_an_inquiry_naming_another_gateway_reference_is_flagged_not_applied(
    world: World,
) -> None:
    tx = await world.container.deposit().execute(DepositCommand(1, "10.00", "USD"))
    assert tx.status is TransactionStatus.PROCESSING
    age(world, tx)
    world.gateways["paypal"].statuses[tx.attempts[0].reference] = GatewayStatus(
        found=True, status="completed", reference_id="PP-other", amount_minor=1000, currency="USD"
    )
    report = await reconciler(world).execute()
    assert world.store.transactions[tx.id].status is TransactionStatus.PROCESSING
    assert world.store.balances.get((1, "USD", AccountKind.AVAILABLE), 0) == 0
    [issue] = world.store.issues
    assert (issue.kind, issue.transaction_id) == ("reference_mismatch", tx.id)
    assert report.flagged == 1


async def test_an_inquiry_naming_the_accepted_reference_settles(world: World) -> None:
    tx = await world.container.deposit().execute(DepositCommand(1, "10.00", "USD"))
    age(world, tx)
    world.gateways["paypal"].statuses[tx.attempts[0].reference] = GatewayStatus(
        found=True,
        status="completed",
        reference_id=tx.reference_id,
        amount_minor=1000,
        currency="USD",
    )
    await reconciler(world).execute()
    assert world.store.transactions[tx.id].status is TransactionStatus.COMPLETED
    assert world.store.issues == []
