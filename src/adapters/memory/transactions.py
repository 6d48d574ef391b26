"""In-memory TransactionRepository: deep copies, so aggregates never alias the store."""

from __future__ import annotations

import builtins
import copy
from collections.abc import Sequence
from datetime import datetime

from adapters.memory.store import Staged
from application.log_context import current_actor
from application.ports import PageCursor
from domain.transaction import AttemptOutcome, Transaction, TransactionStatus


class MemoryTransactionRepository:
    def __init__(self, staged: Staged) -> None:
        self._staged = staged
        self.tracked: dict[str, tuple[Transaction, str | None]] = {}

    async def add(self, tx: Transaction) -> None:
        self.tracked[tx.id] = (tx, current_actor())

    async def get(self, transaction_id: str) -> Transaction | None:
        return (await self.get_many([transaction_id])).get(transaction_id)

    async def get_many(
        self, transaction_ids: Sequence[str], *, lock: bool = False
    ) -> dict[str, Transaction]:
        found: dict[str, Transaction] = {}
        for tid in transaction_ids:
            if tid in self.tracked:
                found[tid] = self.tracked[tid][0]
                continue
            tx = self._staged.transactions.get(tid) or self._staged.store.transactions.get(tid)
            if tx is not None:
                copied = copy.deepcopy(tx)
                self.tracked[tid] = (copied, None)
                found[tid] = copied
        return found

    def forget(self, transaction_ids: Sequence[str]) -> None:
        for tid in transaction_ids:
            self.tracked.pop(tid, None)

    async def list(
        self,
        *,
        user_id: int | None,
        status: TransactionStatus | None,
        limit: int,
        after: PageCursor | None,
    ) -> list[Transaction]:
        rows = sorted(
            self._staged.store.transactions.values(),
            key=lambda t: (t.created_at, t.id),
            reverse=True,
        )
        out = [
            copy.deepcopy(t)
            for t in rows
            if (user_id is None or t.user_id == user_id)
            and (status is None or t.status is status)
            and (after is None or (t.created_at, t.id) < (after.created_at, after.transaction_id))
        ]
        return out[:limit]

    async def stuck(self, *, updated_before: datetime, limit: int) -> builtins.list[Transaction]:
        rows = [
            copy.deepcopy(t)
            for t in self._staged.store.transactions.values()
            if not t.status.is_terminal
            and t.updated_at < updated_before
            and not any(
                c.parent_transaction_id == t.id
                for c in self._staged.store.transactions.values()
                if c.type is t.type
            )
        ]
        return sorted(rows, key=lambda t: t.updated_at)[:limit]

    async def unreconciled(
        self, *, updated_before: datetime, updated_after: datetime, limit: int
    ) -> builtins.list[Transaction]:
        done = self._staged.store.reconciled | self._staged.reconciled
        rows = [
            copy.deepcopy(t)
            for t in self._staged.store.transactions.values()
            if t.status.is_terminal
            and updated_after < t.updated_at < updated_before
            and any(
                a.outcome in (AttemptOutcome.AMBIGUOUS, AttemptOutcome.IN_FLIGHT)
                and (t.id, a.number) not in done
                for a in t.attempts
            )
        ]
        return sorted(rows, key=lambda t: t.updated_at)[:limit]

    async def refunds_of(self, deposit_id: str) -> builtins.list[Transaction]:
        ids = [
            t.id
            for t in sorted(self._staged.store.transactions.values(), key=lambda t: t.created_at)
            if t.parent_transaction_id == deposit_id
        ]
        staged = self._staged.transactions.values()
        ids += [t.id for t in staged if t.parent_transaction_id == deposit_id and t.id not in ids]
        found = await self.get_many(ids)
        return list(found.values())

    async def mark_reconciled(self, transaction_id: str, attempt_numbers: Sequence[int]) -> None:
        self._staged.reconciled |= {(transaction_id, n) for n in attempt_numbers}
