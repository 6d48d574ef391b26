"""UserRepository and RoutingRepository contracts, over the demo reference data."""

from __future__ import annotations

from domain.routing import Priority
from domain.transaction import TransactionType
from domain.user import CountryCode, User
from tests.support.port_contracts import DEMO_CURRENCIES, Backend


async def test_users_are_read_created_and_moved(backend: Backend) -> None:
    async with backend.uow() as unit:
        assert await unit.users.get(1) == User(1, CountryCode("US"))
        assert await unit.users.get(99) is None
        assert await unit.users.upsert(User(99, CountryCode("GB")))
        assert not await unit.users.upsert(User(1, CountryCode("DE")))
        await unit.commit()
    async with backend.uow() as unit:
        assert await unit.users.get(99) == User(99, CountryCode("GB"))
        assert await unit.users.get(1) == User(1, CountryCode("DE"))


async def test_a_user_upsert_without_commit_is_not_kept(backend: Backend) -> None:
    async with backend.uow() as unit:
        await unit.users.upsert(User(99, CountryCode("GB")))
    async with backend.uow() as unit:
        assert await unit.users.get(99) is None


async def test_gateways_are_listed_by_id_and_switched(backend: Backend) -> None:
    async with backend.uow() as unit:
        gateways = await unit.routing.list_gateways()
        assert await unit.routing.set_admin_status("stripe", "down")
        assert not await unit.routing.set_admin_status("nope", "down")
        await unit.commit()
    assert [(g.id, g.format, g.admin_status) for g in gateways] == [
        ("adyen", "soap", "up"),
        ("paypal", "json", "up"),
        ("stripe", "stripe_api", "up"),
    ]
    assert gateways[0].currencies == DEMO_CURRENCIES
    assert gateways[0].operations == frozenset({"deposit", "withdrawal"})
    async with backend.uow() as unit:
        routes = {r.gateway_id: r for r in await unit.routing.routes_for_country("GB")}
    assert {g: (r.priority, r.enabled) for g, r in routes.items()} == {
        "stripe": (1, False),
        "paypal": (2, True),
        "adyen": (3, True),
    }
    # Refunds are no gateway operation: they go where their deposit went.
    assert routes["paypal"].operations == {TransactionType.DEPOSIT, TransactionType.WITHDRAWAL}


async def test_a_country_priority_list_is_replaced_as_a_whole(backend: Backend) -> None:
    async with backend.uow() as unit:
        assert await unit.routing.country_priorities("JP") == [
            Priority("paypal", 1),
            Priority("stripe", 2),
        ]
        await unit.routing.replace_country_priorities(
            "JP", [Priority("stripe", 1), Priority("adyen", 2), Priority("paypal", 3)]
        )
        await unit.commit()
    async with backend.uow() as unit:
        assert await unit.routing.country_priorities("JP") == [
            Priority("stripe", 1),
            Priority("adyen", 2),
            Priority("paypal", 3),
        ]


async def test_an_unknown_country_has_no_routes(backend: Backend) -> None:
    async with backend.uow() as unit:
        assert await unit.routing.country_exists("US")
        assert not await unit.routing.country_exists("ZZ")
        assert await unit.routing.routes_for_country("ZZ") == []
