"""Users, countries, gateways and priorities: repositories and demo data."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from psycopg_pool import AsyncConnectionPool

from adapters.postgres.migrator import load_demo_data
from adapters.postgres.unit_of_work import PostgresUnitOfWork, unit_of_work_factory
from application.ports import UnitOfWorkFactory
from domain.routing import rank_gateways
from domain.transaction import TransactionType
from domain.user import CountryCode, User
from tests.support.keys import TEST_KEYRING

DEMO_CURRENCIES = frozenset({"USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD"})
BOTH = frozenset({TransactionType.DEPOSIT, TransactionType.WITHDRAWAL})


@pytest.fixture
def uow(demo_database_url: str, pool: AsyncConnectionPool) -> Callable[[], PostgresUnitOfWork]:
    return unit_of_work_factory(pool, TEST_KEYRING)


async def execute(pool: AsyncConnectionPool, *statements: str) -> None:
    """Run statements in one committed transaction, as an operator would."""
    async with pool.connection() as conn:
        for statement in statements:
            await conn.execute(statement)


def set_priority(country: str, gateway: str, priority: int) -> str:
    return (
        f"UPDATE gateway_countries SET priority = {priority}"
        f" WHERE country_code = '{country}' AND gateway_id = '{gateway}'"
    )


async def ranked_ids(uow: UnitOfWorkFactory, country: str, currency: str = "USD") -> list[str]:
    async with uow() as unit:
        routes = await unit.routing.routes_for_country(country)
    return [r.gateway_id for r in rank_gateways(routes, TransactionType.DEPOSIT, currency)]


async def test_upsert_creates_then_moves_a_user(uow: UnitOfWorkFactory) -> None:
    async with uow() as unit:
        created = await unit.users.upsert(User(10, CountryCode("US")))
        await unit.commit()
    async with uow() as unit:
        moved = await unit.users.upsert(User(10, CountryCode("GB")))
        await unit.commit()
    async with uow() as unit:
        user = await unit.users.get(10)
        missing = await unit.users.get(999)

    assert (created, moved) == (True, False)
    assert user == User(10, CountryCode("GB"))
    assert missing is None


async def test_demo_users_live_in_their_countries(uow: UnitOfWorkFactory) -> None:
    async with uow() as unit:
        users = [await unit.users.get(uid) for uid in (1, 2, 3, 4)]
    assert [u.country.value if u else None for u in users] == ["US", "GB", "DE", "JP"]


async def test_us_routes_rank_by_priority(uow: UnitOfWorkFactory) -> None:
    async with uow() as unit:
        routes = await unit.routing.routes_for_country("US")

    ranked = rank_gateways(routes, TransactionType.WITHDRAWAL, "USD")
    assert [(r.gateway_id, r.priority) for r in ranked] == [
        ("paypal", 1),
        ("stripe", 2),
        ("adyen", 3),
    ]
    assert all(r.operations == BOTH and r.currencies == DEMO_CURRENCIES for r in routes)
    assert all(r.enabled for r in routes)


@pytest.mark.parametrize(
    ("country", "expected"),
    [
        ("GB", ["stripe", "paypal", "adyen"]),
        ("DE", ["adyen", "stripe", "paypal"]),
        ("JP", ["paypal", "stripe"]),
        ("FR", []),
    ],
)
async def test_each_demo_country_has_its_priority_list(
    uow: UnitOfWorkFactory, country: str, expected: list[str]
) -> None:
    assert await ranked_ids(uow, country) == expected


async def test_a_gateway_switched_down_is_reported_disabled(
    uow: UnitOfWorkFactory, pool: AsyncConnectionPool
) -> None:
    await execute(pool, "UPDATE gateways SET admin_status = 'down' WHERE id = 'paypal'")

    async with uow() as unit:
        routes = {r.gateway_id: r for r in await unit.routing.routes_for_country("US")}
    assert not routes["paypal"].enabled
    assert await ranked_ids(uow, "US") == ["stripe", "adyen"]


async def test_priorities_can_be_swapped_in_one_transaction(
    uow: UnitOfWorkFactory, pool: AsyncConnectionPool
) -> None:
    # The unique (country, priority) constraint is deferred to the commit.
    await execute(pool, set_priority("US", "paypal", 2), set_priority("US", "stripe", 1))
    assert await ranked_ids(uow, "US") == ["stripe", "paypal", "adyen"]


async def test_country_exists_only_for_configured_countries(uow: UnitOfWorkFactory) -> None:
    async with uow() as unit:
        assert await unit.routing.country_exists("US")
        assert not await unit.routing.country_exists("FR")


async def test_reloading_demo_data_keeps_operator_edits(
    demo_database_url: str, uow: UnitOfWorkFactory, pool: AsyncConnectionPool
) -> None:
    await execute(
        pool,
        "UPDATE gateways SET admin_status = 'down' WHERE id = 'adyen'",
        "UPDATE users SET country_code = 'DE' WHERE id = 1",
        "DELETE FROM gateway_countries WHERE country_code = 'US' AND gateway_id = 'paypal'",
        set_priority("US", "stripe", 1),
    )

    await load_demo_data(demo_database_url)

    async with uow() as unit:
        user = await unit.users.get(1)
        routes = await unit.routing.routes_for_country("US")
    assert user == User(1, CountryCode("DE"))
    assert {(r.gateway_id, r.priority, r.enabled) for r in routes} == {
        ("stripe", 1, True),
        ("adyen", 3, False),
    }
