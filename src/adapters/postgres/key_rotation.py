"""Key rotation's view of PostgreSQL: the stored ciphertexts and an audit log of its own.

The re-encryption itself is reencrypt.py; this module wraps it with the pool
and the keys as configured, and gives operator commands an AuditLog outside
any unit of work.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from psycopg_pool import AsyncConnectionPool

from adapters.crypto.keyring import Keyring
from adapters.postgres.audit import PostgresAuditLog
from adapters.postgres.reencrypt import key_usage, reencrypt
from adapters.postgres.session import Session

# A database migrated only part of the way may not have the audit table yet.
AUDIT_TABLE_EXISTS = "SELECT to_regclass('audit_log') IS NOT NULL"


class PostgresCiphertexts:
    """StoredCiphertexts over every encrypted column (reencrypt.ENCRYPTED_COLUMNS)."""

    def __init__(self, pool: AsyncConnectionPool, keyring: Callable[[], Keyring]) -> None:
        self._pool = pool
        # Called per pass: adding a primary key changes the keyring to use.
        self._keyring = keyring

    async def key_usage(self) -> dict[str, int]:
        return await key_usage(self._pool)

    async def reencrypt(
        self, *, batch_size: int, on_progress: Callable[[int, int], None] | None = None
    ) -> int:
        return await reencrypt(
            self._pool, self._keyring(), batch_size=batch_size, on_progress=on_progress
        )


class PostgresAuditLogs:
    """AuditLogs: each opened log writes on its own connection, committed at the end."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    @asynccontextmanager
    async def open(self) -> AsyncIterator[PostgresAuditLog | None]:
        async with self._pool.connection() as conn:
            cur = await conn.execute(AUDIT_TABLE_EXISTS)
            row = await cur.fetchone()
            if not row or not row[0]:
                yield None
                return
            session = Session(conn)
            yield PostgresAuditLog(session)
            await session.commit()
