"""The composition root: the only place that knows every concrete adapter.

Resources (database pool, HTTP client) start and stop with the app lifespan;
use cases are factories, built per request. Tests override providers with
in-memory fakes (``container.uow_factory.override(...)``).
"""

from __future__ import annotations

from dependency_injector import containers, providers

from adapters.gateways.http_client import http_client_resource
from adapters.postgres.database import PostgresDatabase
from adapters.postgres.pool import pool_resource
from adapters.postgres.unit_of_work import unit_of_work_factory
from adapters.system import SystemClock, UuidV7Generator
from application.deposit import Deposit
from application.dispatch import GatewayDispatcher
from application.get_transaction import GetTransaction
from application.list_transactions import ListTransactions
from application.upsert_user import UpsertUser
from entrypoints.gateways import build_registry
from entrypoints.settings import Settings


class Container(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)

    db_pool = providers.Resource(
        pool_resource,
        url=settings.provided.database_url,
        min_size=settings.provided.db_pool_min,
        max_size=settings.provided.db_pool_max,
    )
    http_client = providers.Resource(
        http_client_resource,
        connect_timeout_s=settings.provided.gateway_connect_timeout_s,
        read_timeout_s=settings.provided.gateway_read_timeout_s,
    )

    uow_factory = providers.Singleton(unit_of_work_factory, db_pool)
    database = providers.Singleton(PostgresDatabase, db_pool)
    gateways = providers.Singleton(build_registry, settings.provided.gateways, http_client)
    clock = providers.Singleton(SystemClock)
    ids = providers.Singleton(UuidV7Generator)

    dispatcher = providers.Factory(
        GatewayDispatcher, uow=uow_factory, providers=gateways, clock=clock
    )
    deposit = providers.Factory(
        Deposit, uow=uow_factory, dispatcher=dispatcher, clock=clock, ids=ids
    )
    get_transaction = providers.Factory(GetTransaction, uow=uow_factory)
    list_transactions = providers.Factory(ListTransactions, uow=uow_factory)
    upsert_user = providers.Factory(UpsertUser, uow=uow_factory)


def make_container(settings: Settings) -> Container:
    return Container(settings=settings)
