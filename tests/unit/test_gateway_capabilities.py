"""Routing skips gateways whose wire family cannot carry the operation (Stripe: no payouts)."""

from __future__ import annotations

import pytest
from dependency_injector import providers

from adapters.gateways.capabilities import FamilyCapabilities
from adapters.gateways.families import FAMILIES
from application.deposit import DepositCommand
from application.settle import FinalStatus, SettleCommand
from application.withdraw import WithdrawCommand
from domain.errors import NoEligibleGateway
from domain.routing import Priority
from domain.transaction import TransactionType
from tests.unit.conftest import World

GB_USER = 2  # the unit demo routes GB to stripe, then paypal, then adyen


def test_each_family_declares_what_it_offers() -> None:
    capabilities = FamilyCapabilities(
        {"paypal": FAMILIES.get("json"), "stripe": FAMILIES.get("stripe_api")}
    )

    assert capabilities.offers("paypal", TransactionType.WITHDRAWAL)
    assert capabilities.offers("stripe", TransactionType.DEPOSIT)
    assert capabilities.offers("stripe", TransactionType.REFUND)
    assert not capabilities.offers("stripe", TransactionType.WITHDRAWAL)
    # Without an adapter here the dispatcher fails over; routing does not decide that.
    assert capabilities.offers("unknown", TransactionType.WITHDRAWAL)


@pytest.fixture
def demo_families(world: World) -> World:
    """The world with the demo's families: paypal json, stripe stripe_api, adyen soap."""
    families = {g: FAMILIES.get(f) for g, f in (("paypal", "json"), ("stripe", "stripe_api"))}
    world.container.capabilities.override(providers.Object(FamilyCapabilities(families)))
    return world


async def funded(world: World) -> None:
    tx = await world.container.deposit().execute(DepositCommand(GB_USER, "50.00", "GBP"))
    assert tx.gateway_id == "stripe"
    await world.container.settle().execute(SettleCommand(tx.id, FinalStatus.COMPLETED, "paid"))


async def test_a_withdrawal_skips_stripe_and_pays_out_at_the_next_gateway(
    demo_families: World,
) -> None:
    world = demo_families
    await funded(world)

    tx = await world.container.withdraw().execute(WithdrawCommand(GB_USER, "10.00", "GBP"))

    assert [a.gateway_id for a in tx.attempts] == ["paypal"]
    assert world.gateways["stripe"].received[-1].type is TransactionType.DEPOSIT


async def test_a_withdrawal_where_only_stripe_serves_gets_no_eligible_gateway(
    demo_families: World,
) -> None:
    world = demo_families
    world.store.priorities["GB"] = [Priority("stripe", 1)]
    await funded(world)

    with pytest.raises(NoEligibleGateway, match="withdrawal in GBP for country GB"):
        await world.container.withdraw().execute(WithdrawCommand(GB_USER, "10.00", "GBP"))

    assert [i.type for i in world.gateways["stripe"].received] == [TransactionType.DEPOSIT]
