"""The routing page's order comes from the application, through the real wiring."""

from __future__ import annotations

import pytest

from domain.errors import NotFound
from domain.routing import GatewayRoute, ready_first
from domain.transaction import TransactionType
from tests.unit.conftest import World


def ids(routes: list[GatewayRoute]) -> list[str]:
    return [r.gateway_id for r in routes]


async def order(world: World, country: str) -> tuple[list[str], list[str]]:
    found = await world.container.get_country_route_order().execute(country)
    return [r.gateway_id for r in found.routes], [r.gateway_id for r in found.next_tries]


async def test_a_healthy_country_is_tried_in_priority_order(world: World) -> None:
    assert await order(world, "GB") == (
        ["stripe", "paypal", "adyen"],
        ["stripe", "paypal", "adyen"],
    )


async def test_a_switched_off_gateway_is_listed_but_not_tried(world: World) -> None:
    await world.container.set_gateway_status().execute("stripe", "down")
    found = await world.container.get_country_route_order().execute("GB")
    assert [(r.gateway_id, r.enabled) for r in found.routes] == [
        ("stripe", False),
        ("paypal", True),
        ("adyen", True),
    ]
    assert [r.gateway_id for r in found.next_tries] == ["paypal", "adyen"]


async def test_an_unhealthy_gateway_goes_to_the_back_not_out(world: World) -> None:
    world.container.monitors().get("stripe").set_health("unhealthy")
    found = await world.container.get_country_route_order().execute("GB")
    assert [(r.gateway_id, r.available) for r in found.next_tries] == [
        ("paypal", True),
        ("adyen", True),
        ("stripe", False),
    ]


async def test_an_unknown_country_is_not_found(world: World) -> None:
    with pytest.raises(NotFound):
        await world.container.get_country_route_order().execute("ZZ")


def test_ready_first_keeps_the_rank_order_within_each_group() -> None:
    both = frozenset({TransactionType.DEPOSIT})
    ranked = [GatewayRoute(gid, n, both, frozenset({"USD"})) for n, gid in enumerate("abcd")]
    assert ids(ready_first(ranked, lambda gid: gid in {"b", "d"})) == ["b", "d", "a", "c"]
