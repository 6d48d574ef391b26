"""Query: one transaction with its attempts, its history and (a deposit) its refunds."""

from __future__ import annotations

from dataclasses import dataclass, field

from application.ports import AuditEntry, UnitOfWorkFactory
from domain.errors import NotFound
from domain.transaction import Transaction, TransactionType


@dataclass(frozen=True, slots=True)
class TransactionDetails:
    transaction: Transaction
    history: list[AuditEntry]
    # A deposit's refunds or a withdrawal's legs, oldest first.
    refunds: list[Transaction] = field(default_factory=list)


class GetTransaction:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, transaction_id: str) -> TransactionDetails:
        async with self._uow() as uow:
            tx = await uow.transactions.get(transaction_id)
            if tx is None:
                raise NotFound(f"transaction {transaction_id} does not exist")
            history = await uow.audit.history("transaction", tx.id)
            # A deposit's refunds; a closed-loop withdrawal's legs (its children too).
            refunds = (
                await uow.transactions.refunds_of(tx.id)
                if tx.type in (TransactionType.DEPOSIT, TransactionType.WITHDRAWAL)
                and tx.parent_transaction_id is None
                else []
            )
        return TransactionDetails(tx, history, refunds)
