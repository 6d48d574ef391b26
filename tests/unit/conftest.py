"""Unit tests run the real container wiring with in-memory adapters."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from dependency_injector import providers

from adapters.memory.gateways import MemoryProviderRegistry, ScriptedProvider
from adapters.memory.unit_of_work import MemoryDatabase, MemoryStore, MemoryUnitOfWork
from domain.routing import GatewayRoute
from domain.transaction import TransactionType
from domain.user import CountryCode, User
from entrypoints.container import Container
from entrypoints.settings import Settings

CLIENT_KEY = "test-client-key"
ADMIN_KEY = "test-admin-key"
BOTH = frozenset({TransactionType.DEPOSIT, TransactionType.WITHDRAWAL})
MAJOR = frozenset({"USD", "EUR", "GBP", "JPY"})


def demo_routes() -> dict[str, list[GatewayRoute]]:
    def r(gid: str, prio: int) -> GatewayRoute:
        return GatewayRoute(gid, prio, BOTH, MAJOR)

    return {
        "US": [r("paypal", 1), r("stripe", 2), r("adyen", 3)],
        "GB": [r("stripe", 1), r("paypal", 2), r("adyen", 3)],
        "DE": [r("adyen", 1), r("stripe", 2), r("paypal", 3)],
        "JP": [r("paypal", 1), r("stripe", 2)],
        "FR": [],
    }


@dataclass
class World:
    container: Container
    store: MemoryStore
    gateways: dict[str, ScriptedProvider]


@pytest.fixture
def world() -> Iterator[World]:
    store = MemoryStore(routes=demo_routes())
    for uid, country in ((1, "US"), (2, "GB"), (3, "DE"), (4, "JP"), (5, "FR")):
        store.users[uid] = User(uid, CountryCode(country))
    gateways = {gid: ScriptedProvider(gid) for gid in ("paypal", "stripe", "adyen")}
    container = Container(settings=Settings(api_keys=(CLIENT_KEY,), admin_api_keys=(ADMIN_KEY,)))
    container.db_pool.override(providers.Object(None))
    container.http_client.override(providers.Object(None))
    container.uow_factory.override(providers.Object(lambda: MemoryUnitOfWork(store)))
    container.database.override(providers.Object(MemoryDatabase()))
    container.gateways.override(providers.Object(MemoryProviderRegistry(*gateways.values())))
    yield World(container, store, gateways)
    container.unwire()
