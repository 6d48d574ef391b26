"""Ports for storing transactions and their attempts."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from domain.transaction import Transaction, TransactionStatus


@dataclass(frozen=True, slots=True)
class PageCursor:
    """Keyset position: the last row of the previous page."""

    created_at: datetime
    transaction_id: str


class TransactionRepository(Protocol):
    """Transactions and their attempts, kept track of by the unit of work.

    Every aggregate loaded through ``get``/``get_many`` or given to ``add`` is
    written at ``commit()`` with everything its changes require (see
    application/changes.py).
    """

    async def add(self, tx: Transaction) -> None:
        """Track ``tx``: inserted at commit when never stored, else updated.

        The update is guarded by an optimistic lock: commit raises
        ConcurrentUpdate when the stored version is no longer
        ``tx.loaded_version`` (someone else changed it meanwhile). The actor
        bound now (application.log_context) is the one its audit entries name.
        """

    async def get(self, transaction_id: str) -> Transaction | None:
        """The transaction with its attempts, or None."""

    async def get_many(
        self, transaction_ids: Sequence[str], *, lock: bool = False
    ) -> dict[str, Transaction]:
        """Those that exist, by the ids given; ``lock`` holds their rows until commit."""

    async def list(
        self,
        *,
        user_id: int | None,
        status: TransactionStatus | None,
        limit: int,
        after: PageCursor | None,
    ) -> list[Transaction]:
        """Newest first, strictly after the cursor."""

    async def stuck(self, *, updated_before: datetime, limit: int) -> builtins.list[Transaction]:
        """Pending or processing transactions untouched since ``updated_before``."""

    async def unreconciled(
        self, *, updated_before: datetime, updated_after: datetime, limit: int
    ) -> builtins.list[Transaction]:
        """Terminal transactions with an ambiguous or in-flight attempt nobody checked yet."""

    async def refunds_of(self, deposit_id: str) -> builtins.list[Transaction]:
        """Every refund of the deposit, oldest first, tracked like ``get``."""

    async def mark_reconciled(self, transaction_id: str, attempt_numbers: Sequence[int]) -> None:
        """Remember that these attempts were checked with their gateway."""
