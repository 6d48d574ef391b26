"""Database liveness for the readiness probe."""

from __future__ import annotations

import asyncio

import psycopg
from psycopg_pool import AsyncConnectionPool


class PostgresDatabase:
    """Database port: does a trivial query answer quickly?"""

    def __init__(self, pool: AsyncConnectionPool, *, timeout: float = 2.0) -> None:
        self._pool = pool
        self._timeout = timeout

    async def ping(self) -> bool:
        """True when ``SELECT 1`` answers within the timeout; never raises."""
        try:
            async with (
                asyncio.timeout(self._timeout),
                self._pool.connection(timeout=self._timeout) as conn,
            ):
                await conn.execute("SELECT 1")
        except (psycopg.Error, TimeoutError):
            return False
        return True
