"""UnitOfWork over PostgreSQL: one pooled connection, one database transaction.

Nothing is kept unless ``commit()`` is awaited; leaving the block any other
way rolls back. Driver errors that mean "the database is not there" become
ServiceUnavailable, so the HTTP edge answers 503 instead of a bare 500.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from adapters.crypto.keyring import Keyring
from adapters.postgres.audit import PostgresAuditLog
from adapters.postgres.inbox import PostgresCallbackInbox
from adapters.postgres.issues import PostgresIssueLog
from adapters.postgres.ledger import PostgresLedger
from adapters.postgres.outbox import PostgresEventOutbox
from adapters.postgres.routing import PostgresRoutingRepository
from adapters.postgres.transactions import PostgresTransactionRepository
from adapters.postgres.users import PostgresUserRepository
from domain.errors import ConcurrentUpdate, ServiceUnavailable


class PostgresUnitOfWork:
    """Repositories sharing one connection; the ``async with`` block is the transaction."""

    transactions: PostgresTransactionRepository
    users: PostgresUserRepository
    routing: PostgresRoutingRepository
    ledger: PostgresLedger
    outbox: PostgresEventOutbox
    inbox: PostgresCallbackInbox
    audit: PostgresAuditLog
    issues: PostgresIssueLog

    def __init__(self, pool: AsyncConnectionPool, keyring: Keyring) -> None:
        self._pool = pool
        self._keyring = keyring
        self._conn: AsyncConnection[Any] | None = None

    async def __aenter__(self) -> Self:
        try:
            # The pool's connections are not autocommit, so the first statement
            # opens the transaction and it stays open until commit or rollback.
            conn = await self._pool.getconn()
        except psycopg.OperationalError as exc:  # PoolTimeout, PoolClosed
            raise ServiceUnavailable("the database is not reachable") from exc
        self._conn = conn
        self.outbox = PostgresEventOutbox(conn)
        self.transactions = PostgresTransactionRepository(conn, self.outbox, self._keyring)
        self.ledger = PostgresLedger(conn)
        self.inbox = PostgresCallbackInbox(conn, self._keyring)
        self.audit = PostgresAuditLog(conn)
        self.issues = PostgresIssueLog(conn)
        self.users = PostgresUserRepository(conn)
        self.routing = PostgresRoutingRepository(conn)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            await conn.rollback()  # a no-op after commit()
        except Exception:
            # Broken or mid-query (cancelled): never hand it out again.
            await conn.close()
        finally:
            await self._pool.putconn(conn)
        if isinstance(exc, psycopg.Error):
            translated = _translate(exc)
            if translated is not None:
                raise translated from exc

    async def commit(self) -> None:
        """Make everything done in this unit durable."""
        if self._conn is None:
            raise RuntimeError("commit() outside 'async with'")
        try:
            await self._conn.commit()
        except psycopg.Error as exc:
            translated = _translate(exc)
            if translated is None:
                raise
            raise translated from exc


def _translate(exc: psycopg.Error) -> Exception | None:
    """The application error a driver error stands for, if any."""
    if isinstance(exc, psycopg.errors.TransactionRollback):
        # Serialization failure or deadlock: another writer won; retrying may work.
        return ConcurrentUpdate("the database aborted a conflicting transaction")
    if isinstance(exc, psycopg.OperationalError):
        return ServiceUnavailable("the database is not reachable")
    return None


def unit_of_work_factory(
    pool: AsyncConnectionPool, keyring: Keyring
) -> Callable[[], PostgresUnitOfWork]:
    """A fresh unit of work per call, all borrowing from ``pool``."""
    return lambda: PostgresUnitOfWork(pool, keyring)
