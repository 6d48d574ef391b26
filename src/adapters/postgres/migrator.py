"""Schema migrations and demo data.

Migrations are the ``migrations/NNNN_name.sql`` files, applied in filename
order, each in its own transaction together with its row in
``schema_migrations``, so a failed migration leaves no trace and is retried on
the next run. A session advisory lock serialises concurrent runs: two
processes starting at once both succeed, one applies and the other finds
nothing left to do.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable

import psycopg
from psycopg.rows import TupleRow

from domain.errors import ServiceUnavailable

# Any fixed bigint works, as long as nothing else uses it: "paymmigr" in ASCII.
MIGRATION_LOCK_ID = 0x7061796D6D696772
CONNECT_TIMEOUT = 10

CREATE_MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    text        PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""
SELECT_APPLIED = "SELECT version FROM schema_migrations"
RECORD_MIGRATION = "INSERT INTO schema_migrations (version, applied_at) VALUES (%s, now())"
LOCK = "SELECT pg_advisory_lock(%s)"

_PACKAGE = resources.files("adapters.postgres")


def migration_files() -> list[tuple[str, Traversable]]:
    """(version, file) for every migration, in the order they must run."""
    files = [f for f in (_PACKAGE / "migrations").iterdir() if f.name.endswith(".sql")]
    return [(f.name.removesuffix(".sql"), f) for f in sorted(files, key=lambda f: f.name)]


async def migrate(url: str) -> list[str]:
    """Apply the migrations not applied yet; return their versions."""
    applied_now: list[str] = []
    async with await _connect(url) as conn:
        # Held until the session ends, which also releases it if we crash.
        await conn.execute(LOCK, (MIGRATION_LOCK_ID,))
        await conn.execute(CREATE_MIGRATIONS_TABLE)
        cur = await conn.execute(SELECT_APPLIED)
        done = {version for (version,) in await cur.fetchall()}
        for version, file in migration_files():
            if version in done:
                continue
            async with conn.transaction():
                # No parameters, so the file may hold many statements.
                await conn.execute(file.read_bytes())
                await conn.execute(RECORD_MIGRATION, (version,))
            applied_now.append(version)
    return applied_now


async def load_demo_data(url: str) -> None:
    """Insert the demo countries, gateways, priorities and users where missing.

    Safe to run on every start: existing rows are never overwritten.
    """
    script = (_PACKAGE / "demo_data.sql").read_bytes()
    async with await _connect(url) as conn, conn.transaction():
        await conn.execute(script)


async def _connect(url: str) -> psycopg.AsyncConnection[TupleRow]:
    # Autocommit: each migration opens its own explicit transaction.
    try:
        return await psycopg.AsyncConnection.connect(
            url, autocommit=True, connect_timeout=CONNECT_TIMEOUT
        )
    except psycopg.OperationalError as exc:
        raise ServiceUnavailable("the database is not reachable") from exc
