"""A unit of work over plain dicts, with commit and rollback like the real one.

Its repositories live one per module next to it (store.py holds what the
"database" keeps); ``MemoryStore`` and ``BALANCE_MAX`` are re-exported here
for the tests that build a store.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from types import TracebackType
from typing import Self

from adapters.memory.audit import MemoryAuditLog, MemoryIssueLog
from adapters.memory.inbox import MemoryInbox
from adapters.memory.ledger import MemoryLedger
from adapters.memory.limits import MemoryLimits
from adapters.memory.outbox import MemoryOutbox
from adapters.memory.routing import MemoryRoutingRepository, MemoryUserRepository
from adapters.memory.store import BALANCE_MAX, MemoryStore, Staged
from adapters.memory.transactions import MemoryTransactionRepository
from application.changes import TransactionChanges, collect, has_changes, written
from application.log_context import current_actor
from application.ports import AuditEntry
from domain.errors import ConcurrentUpdate

__all__ = ["BALANCE_MAX", "MemoryDatabase", "MemoryStore", "MemoryUnitOfWork"]


class MemoryUnitOfWork:
    """Commit collects every tracked transaction's changes, like the real one."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self._begin()

    def _begin(self) -> None:
        self._staged = Staged(self._store)
        self.transactions = MemoryTransactionRepository(self._staged)
        self.users = MemoryUserRepository(self._staged)
        self.routing = MemoryRoutingRepository(self._staged)
        self.ledger = MemoryLedger(self._staged)
        self.limits = MemoryLimits(self._staged)
        self.outbox = MemoryOutbox(self._staged)
        self.inbox = MemoryInbox(self._staged)
        self.audit = MemoryAuditLog(self._staged)
        self.issues = MemoryIssueLog(self._staged)

    async def __aenter__(self) -> Self:
        self._begin()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._begin()  # anything not committed is dropped

    async def commit(self) -> None:
        changes = self._collect()
        self._stage(changes)  # raises (nothing kept) on a lost race or an overdraft
        self._staged.apply()
        for change in changes:
            written(change)
        self._begin()

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        before = copy.copy(self._staged.__dict__)
        snapshot = {k: copy.copy(v) for k, v in before.items() if k != "store"}
        changes: list[TransactionChanges] = []
        try:
            yield
            changes = self._collect()
            self._stage(changes)
        except BaseException:
            for key, value in snapshot.items():
                setattr(self._staged, key, value)
            touched = {c.transaction.id for c in changes} | {
                tx.id for tx, _ in self.transactions.tracked.values() if has_changes(tx)
            }
            self.transactions.forget(list(touched))
            raise
        for change in changes:
            written(change)

    def _collect(self) -> list[TransactionChanges]:
        actor = current_actor() or "system"
        return [
            collect(tx, added_by or actor) for tx, added_by in self.transactions.tracked.values()
        ]

    def _stage(self, changes: list[TransactionChanges]) -> None:
        staged = self._staged
        for change in changes:
            if change.empty:
                continue
            tx = change.transaction
            stored = staged.transactions.get(tx.id) or staged.store.transactions.get(tx.id)
            if change.new and stored is not None:
                raise ConcurrentUpdate(f"transaction {tx.id} already exists")
            if not change.new and (stored is None or stored.version != change.loaded_version):
                raise ConcurrentUpdate(
                    f"transaction {tx.id} changed meanwhile", transaction_id=tx.id
                )
            copied = copy.deepcopy(tx)
            copied.loaded_version = copied.version
            staged.transactions[tx.id] = copied
            staged.events.extend(change.events)
            for journal in change.journals:
                self.ledger.book(journal)
            for entry in change.audit:
                staged.audit.append(
                    (
                        entry.subject_type,
                        entry.subject_id,
                        AuditEntry(
                            datetime.now(UTC), entry.actor, entry.action, dict(entry.details)
                        ),
                    )
                )
        # Funds are checked on the balances the commit ends with (netted per
        # account), as the database's one statement per commit does.
        self.ledger.check()


class MemoryDatabase:
    def __init__(self, healthy: bool = True) -> None:
        self.healthy = healthy

    async def ping(self) -> bool:
        return self.healthy
