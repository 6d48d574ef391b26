"""The pool's lifetime, the readiness ping, and failing fast when the database is gone."""

from __future__ import annotations

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from adapters.postgres.database import PostgresDatabase
from adapters.postgres.pool import open_pool, pool_resource
from adapters.postgres.unit_of_work import PostgresUnitOfWork
from domain.errors import ServiceUnavailable
from tests.support.keys import TEST_KEYRING


async def unopened_pool(url: str) -> AsyncConnectionPool:
    """A pool that keeps trying to connect in the background, as in an outage."""
    pool = AsyncConnectionPool(url, min_size=1, open=False, timeout=0.5)
    await pool.open(wait=False)
    return pool


async def test_pool_resource_opens_and_closes_the_pool(database_url: str) -> None:
    resource = pool_resource(database_url, max_size=2)
    pool = await anext(resource)
    assert await PostgresDatabase(pool).ping()

    await resource.aclose()
    assert pool.closed


async def test_ping_is_true_when_the_database_answers(pool: AsyncConnectionPool) -> None:
    assert await PostgresDatabase(pool).ping()


async def test_ping_is_false_when_the_database_is_unreachable(
    unreachable_database_url: str,
) -> None:
    pool = await unopened_pool(unreachable_database_url)
    try:
        assert not await PostgresDatabase(pool, timeout=0.5).ping()
    finally:
        await pool.close()


async def test_open_pool_fails_with_service_unavailable(unreachable_database_url: str) -> None:
    with pytest.raises(ServiceUnavailable) as raised:
        await open_pool(unreachable_database_url, timeout_seconds=0.5)
    assert isinstance(raised.value.__cause__, psycopg.OperationalError)


async def test_a_unit_of_work_fails_fast_when_no_connection_comes(
    unreachable_database_url: str,
) -> None:
    pool = await unopened_pool(unreachable_database_url)
    try:
        with pytest.raises(ServiceUnavailable) as raised:
            async with PostgresUnitOfWork(pool, TEST_KEYRING):
                pass
        assert isinstance(raised.value.__cause__, psycopg.OperationalError)
    finally:
        await pool.close()


async def read_after_sessions_are_killed(pool: AsyncConnectionPool, url: str) -> None:
    async with PostgresUnitOfWork(pool, TEST_KEYRING) as unit:
        assert await unit.users.get(1) is not None
        # An administrator (or a failover) ends every session of this database.
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as admin:
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        await unit.users.get(1)


async def test_a_connection_lost_mid_unit_becomes_service_unavailable(
    demo_database_url: str, pool: AsyncConnectionPool
) -> None:
    with pytest.raises(ServiceUnavailable) as raised:
        await read_after_sessions_are_killed(pool, demo_database_url)
    assert isinstance(raised.value.__cause__, psycopg.OperationalError)
    # The pool replaces the dead connections; the next unit works.
    async with PostgresUnitOfWork(pool, TEST_KEYRING) as unit:
        assert await unit.users.get(1) is not None
