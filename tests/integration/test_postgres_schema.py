"""Migrations and the constraints the schema enforces on its own."""

from __future__ import annotations

import asyncio
import uuid

import psycopg
import pytest
from psycopg import errors

from adapters.postgres.migrator import migrate, migration_files

ALL_VERSIONS = [version for version, _ in migration_files()]


def test_migrations_are_numbered_files_in_order() -> None:
    assert ALL_VERSIONS[0] == "0001_initial"
    assert sorted(ALL_VERSIONS) == ALL_VERSIONS


async def test_migrating_twice_applies_nothing_the_second_time(empty_database_url: str) -> None:
    assert await migrate(empty_database_url) == ALL_VERSIONS
    assert await migrate(empty_database_url) == []


async def test_the_template_copy_is_already_migrated(database_url: str) -> None:
    assert await migrate(database_url) == []


async def test_two_concurrent_migrations_apply_each_version_once(
    empty_database_url: str,
) -> None:
    first, second = await asyncio.gather(migrate(empty_database_url), migrate(empty_database_url))

    assert sorted([first, second]) == [[], ALL_VERSIONS]
    async with await psycopg.AsyncConnection.connect(empty_database_url) as conn:
        cur = await conn.execute("SELECT version FROM schema_migrations ORDER BY version")
        assert [v for (v,) in await cur.fetchall()] == ALL_VERSIONS


INSERT_TRANSACTION = """
INSERT INTO transactions (id, type, status, user_id, amount_minor, currency,
                          version, created_at, updated_at)
VALUES (%s, %s, %s, 1, %s, 'USD', 1, now(), now())
"""


@pytest.mark.parametrize(
    ("type_", "status", "amount_minor"),
    [
        ("deposit", "pending", -100),
        ("deposit", "pending", 0),
        ("refund", "pending", 100),
        ("deposit", "lost", 100),
    ],
)
def test_the_schema_rejects_invalid_transactions(
    demo_database_url: str, type_: str, status: str, amount_minor: int
) -> None:
    with psycopg.connect(demo_database_url) as conn, pytest.raises(errors.CheckViolation):
        conn.execute(INSERT_TRANSACTION, (uuid.uuid4(), type_, status, amount_minor))


def test_the_schema_accepts_a_valid_transaction(demo_database_url: str) -> None:
    with psycopg.connect(demo_database_url) as conn:
        conn.execute(INSERT_TRANSACTION, (uuid.uuid4(), "deposit", "pending", 100))


def test_money_is_stored_as_bigint_minor_units(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        cur = conn.execute(
            "SELECT data_type FROM information_schema.columns"
            " WHERE table_name = 'transactions' AND column_name = 'amount_minor'"
        )
        assert cur.fetchall() == [("bigint",)]


@pytest.mark.parametrize("gateway_id", ["PayPal", "pay pal", "", "x" * 33])
def test_gateway_ids_are_slugs(database_url: str, gateway_id: str) -> None:
    with psycopg.connect(database_url) as conn, pytest.raises(errors.CheckViolation):
        conn.execute(
            "INSERT INTO gateways (id, name, format, operations, currencies)"
            " VALUES (%s, 'x', 'json', '{deposit}', '{USD}')",
            (gateway_id,),
        )


def test_priorities_are_unique_per_country_at_commit(demo_database_url: str) -> None:
    with psycopg.connect(demo_database_url) as conn:
        conn.execute(
            "UPDATE gateway_countries SET priority = 1"
            " WHERE country_code = 'US' AND gateway_id = 'stripe'"
        )
        with pytest.raises(errors.UniqueViolation):
            conn.commit()
