"""Unit tests run the real container wiring with in-memory adapters."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from dependency_injector import providers

from adapters.crypto.keyring import Keyring
from adapters.memory.gateways import MemoryProviderRegistry, ScriptedProvider
from adapters.memory.idempotency import MemoryIdempotencyStore
from adapters.memory.unit_of_work import MemoryDatabase, MemoryStore, MemoryUnitOfWork
from application.ports import GatewayInfo
from domain.routing import Priority
from domain.user import CountryCode, User
from entrypoints.container import Container
from entrypoints.settings import Settings

CLIENT_KEY = "test-client-key"
ADMIN_KEY = "test-admin-key"
BOTH = frozenset({"deposit", "withdrawal"})
MAJOR = frozenset({"USD", "EUR", "GBP", "JPY"})


def demo_store() -> MemoryStore:
    def p(*ids: str) -> list[Priority]:
        return [Priority(gid, n) for n, gid in enumerate(ids, start=1)]

    return MemoryStore(
        gateways={
            gid: GatewayInfo(gid, gid.title(), fmt, "up", BOTH, MAJOR)
            for gid, fmt in (("paypal", "json"), ("stripe", "stripe_api"), ("adyen", "soap"))
        },
        priorities={
            "US": p("paypal", "stripe", "adyen"),
            "GB": p("stripe", "paypal", "adyen"),
            "DE": p("adyen", "stripe", "paypal"),
            "JP": p("paypal", "stripe"),
            "FR": [],
        },
    )


@dataclass
class World:
    container: Container
    store: MemoryStore
    gateways: dict[str, ScriptedProvider]


@pytest.fixture
def world() -> Iterator[World]:
    store = demo_store()
    for uid, country in ((1, "US"), (2, "GB"), (3, "DE"), (4, "JP"), (5, "FR")):
        store.users[uid] = User(uid, CountryCode(country))
    gateways = {gid: ScriptedProvider(gid) for gid in ("paypal", "stripe", "adyen")}
    container = Container(
        settings=Settings(
            api_keys=(CLIENT_KEY,),
            admin_api_keys=(ADMIN_KEY,),
            encryption_keys=Keyring.new_key_spec("unit"),
            health_interval_s=0,
            run_workers=False,
            # TestClient runs the app on a thread of this busy process: its
            # loop's lag measures the test run, not the app.
            admission_max_lag_s=0,
            rate_limit_per_s=0,  # tested on its own (test_rate_limit.py)
        )
    )
    container.db_pool.override(providers.Object(None))
    container.http_client.override(providers.Object(None))
    container.publisher.override(providers.Object(None))
    container.idempotency_store.override(providers.Object(MemoryIdempotencyStore()))
    container.uow_factory.override(providers.Object(lambda: MemoryUnitOfWork(store)))
    container.database.override(providers.Object(MemoryDatabase()))
    container.gateways.override(providers.Object(MemoryProviderRegistry(*gateways.values())))
    yield World(container, store, gateways)
    container.unwire()
