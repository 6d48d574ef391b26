"""UnitOfWork over PostgreSQL: one pooled connection, one database transaction.

Repositories read through the unit's Session and keep track of what they
loaded or were given; ``commit()`` collects every tracked transaction's
changes once (application/changes.py) into one statement (write_path.py)
and sends it with whatever else was queued (inbox results, issues, audit
entries): alone it needs no BEGIN/COMMIT, otherwise they travel in the same
flush (session.py). Either way one round trip. Nothing is kept unless
``commit()`` is awaited. Driver errors are translated at this one place:
"the database is not there" becomes ServiceUnavailable (503), a lost race
ConcurrentUpdate, the ledger's guards InsufficientFunds and
LedgerLimitExceeded.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, Self

import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from adapters.crypto.keyring import Keyring
from adapters.postgres.audit import PostgresAuditLog
from adapters.postgres.inbox import PostgresCallbackInbox
from adapters.postgres.issues import PostgresIssueLog
from adapters.postgres.ledger import NON_NEGATIVE, PostgresLedger
from adapters.postgres.limits import PostgresLimits
from adapters.postgres.outbox import PostgresEventOutbox
from adapters.postgres.routing import PostgresRoutingRepository
from adapters.postgres.session import Session
from adapters.postgres.transactions import PostgresTransactionRepository
from adapters.postgres.users import PostgresUserRepository
from adapters.postgres.write_path import write_statement
from application.changes import TransactionChanges, collect, has_changes, written
from application.log_context import current_actor
from domain.errors import (
    ConcurrentUpdate,
    InsufficientFunds,
    LedgerLimitExceeded,
    ServiceUnavailable,
)

TX_KEY = "transactions_pkey"  # the primary key of transactions (migration 0001)


class PostgresUnitOfWork:
    """Repositories sharing one session; the ``async with`` block is the transaction."""

    transactions: PostgresTransactionRepository
    users: PostgresUserRepository
    routing: PostgresRoutingRepository
    ledger: PostgresLedger
    limits: PostgresLimits
    outbox: PostgresEventOutbox
    inbox: PostgresCallbackInbox
    audit: PostgresAuditLog
    issues: PostgresIssueLog

    def __init__(self, pool: AsyncConnectionPool, keyring: Keyring) -> None:
        self._pool = pool
        self._keyring = keyring
        self._conn: AsyncConnection[Any] | None = None
        self._session: Session | None = None

    async def __aenter__(self) -> Self:
        try:
            conn = await self._pool.getconn()
        except psycopg.OperationalError as exc:  # PoolTimeout, PoolClosed
            raise ServiceUnavailable("the database is not reachable") from exc
        # Autocommit: the session sends BEGIN/COMMIT itself, in the same
        # flush as the statements (a client-side switch, no round trip).
        await conn.set_autocommit(True)
        self._conn = conn
        session = self._session = Session(conn)
        self.outbox = PostgresEventOutbox(session)
        self.transactions = PostgresTransactionRepository(session, self._keyring)
        self.ledger = PostgresLedger(session)
        self.limits = PostgresLimits(session)
        self.inbox = PostgresCallbackInbox(session, self._keyring)
        self.audit = PostgresAuditLog(session)
        self.issues = PostgresIssueLog(session)
        self.users = PostgresUserRepository(session)
        self.routing = PostgresRoutingRepository(session)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn, session = self._conn, self._session
        self._conn = self._session = None
        if conn is None or session is None:
            return
        try:
            if session.tainted:  # see Session._pipeline: not safe to reuse
                await conn.close()
            else:
                await session.rollback()  # a no-op after commit()
                await conn.set_autocommit(False)  # as the pool's other users expect
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
        """Write every tracked change and make it durable, in one flush."""
        session = self._require_session()
        changes = self._collect()
        self._queue(session, changes)
        await _translated(session.commit())
        for change in changes:
            written(change)

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """The block's changes are written at its end, or undone if it raises."""
        session = self._require_session()
        changes: list[TransactionChanges] = []
        try:
            async with session.savepoint():
                yield
                changes = self._collect()
                self._queue(session, changes)
        except psycopg.Error as exc:
            self.inbox.forget_pending()
            self._forget_changed(changes)
            translated = _translate(exc)
            if translated is None:
                raise
            raise translated from exc
        except BaseException:
            self.inbox.forget_pending()
            self._forget_changed(changes)
            raise
        for change in changes:
            written(change)

    def _queue(self, session: Session, changes: list[TransactionChanges]) -> None:
        self.inbox.queue_pending()
        statement = write_statement(changes, self._keyring)
        if statement is not None:
            session.queue(*statement)

    def _collect(self) -> list[TransactionChanges]:
        actor = current_actor() or "system"
        return [
            collect(tx, added_by or actor) for tx, added_by in self.transactions.tracked.values()
        ]

    def _forget_changed(self, changes: list[TransactionChanges]) -> None:
        # Their in-memory state no longer matches the database: read them again.
        touched = {c.transaction.id for c in changes} | {
            tx.id for tx, _ in self.transactions.tracked.values() if has_changes(tx)
        }
        self.transactions.forget(list(touched))

    def _require_session(self) -> Session:
        if self._session is None:
            raise RuntimeError("the unit of work is used outside 'async with'")
        return self._session


async def _translated(operation: Any) -> None:
    try:
        await operation
    except psycopg.Error as exc:
        translated = _translate(exc)
        if translated is None:
            raise
        raise translated from exc


def _translate(exc: psycopg.Error) -> Exception | None:
    """The application error a driver error stands for, if any."""
    if (exc.sqlstate or "").startswith("40"):
        # Class 40, transaction rollback: serialization failure, deadlock or a
        # stale version (migration 0005's guard): another writer won; reading
        # again and retrying may work. (psycopg's classes for 40001/40P01 do
        # not derive from TransactionRollback, hence the SQLSTATE test.)
        return ConcurrentUpdate("the database aborted a conflicting transaction")
    if isinstance(exc, psycopg.errors.CheckViolation) and exc.diag.constraint_name == NON_NEGATIVE:
        # The unit of work rolls back: a refused withdrawal leaves no
        # transaction behind, so no transaction id is reported.
        return InsufficientFunds("insufficient balance for this withdrawal")
    if isinstance(exc, psycopg.errors.UniqueViolation) and exc.diag.constraint_name == TX_KEY:
        # Another writer created a transaction under this id first (a request
        # retried under its Idempotency-Key's reserved id while the first still
        # ran): that writer won, as with a stale version.
        return ConcurrentUpdate("a transaction with this id already exists")
    if isinstance(exc, psycopg.errors.NumericValueOutOfRange):
        return LedgerLimitExceeded("the amount would take a balance beyond what can be stored")
    if isinstance(exc, psycopg.OperationalError):
        return ServiceUnavailable("the database is not reachable")
    return None


def unit_of_work_factory(
    pool: AsyncConnectionPool, keyring: Keyring
) -> Callable[[], PostgresUnitOfWork]:
    """A fresh unit of work per call, all borrowing from ``pool``."""
    return lambda: PostgresUnitOfWork(pool, keyring)
