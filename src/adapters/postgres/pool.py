"""The connection pool every PostgreSQL adapter borrows from.

Timeouts are short on purpose: when the database is down a request should
fail fast with ServiceUnavailable instead of hanging until the client gives up.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from domain.errors import ServiceUnavailable

# Seconds to wait for a pooled connection (and for the pool to fill at start).
POOL_TIMEOUT = 5.0
# Seconds libpq may spend opening one connection (libpq wants an integer).
CONNECT_TIMEOUT = 5


async def open_pool(
    url: str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    timeout_seconds: float = POOL_TIMEOUT,
) -> AsyncConnectionPool:
    """Open a pool on ``url`` and wait until its first connections are ready.

    Raises ServiceUnavailable when the database does not answer in time.
    """
    pool = AsyncConnectionPool(
        url,
        min_size=min_size,
        max_size=max_size,
        open=False,
        timeout=timeout_seconds,
        kwargs={"connect_timeout": CONNECT_TIMEOUT},
        # No check on every checkout: it cost one round trip per unit of work
        # (11 % of the workers' CPU in the benchmark profile). A connection the
        # server dropped fails its first statement instead (a 503 for that one
        # request) and the pool discards it; idle ones are recycled anyway.
        max_idle=60.0,
        name="payments",
    )
    try:
        await pool.open(wait=True, timeout=timeout_seconds)
    except psycopg.OperationalError as exc:  # PoolTimeout is one
        await pool.close()
        # The URL may hold a password: keep it out of the message.
        raise ServiceUnavailable("the database is not reachable") from exc
    return pool


async def pool_resource(
    url: str, min_size: int = 1, max_size: int = 10, timeout_s: float = POOL_TIMEOUT
) -> AsyncGenerator[AsyncConnectionPool, None]:
    """Open the pool for the application's lifetime; close it on shutdown.

    Shaped for dependency-injector's ``providers.Resource``.
    """
    pool = await open_pool(url, min_size=min_size, max_size=max_size, timeout_seconds=timeout_s)
    try:
        yield pool
    finally:
        await pool.close()


async def run_on_pool(
    pool: AsyncConnectionPool, query: str, params: dict[str, Any]
) -> list[dict[str, Any]]:
    """One statement on a pooled connection, committed; its rows as dicts (if any)."""
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, params)
        rows = await cur.fetchall() if cur.description else []
        await conn.commit()
    return rows
