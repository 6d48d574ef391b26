"""Query: one transaction with its attempts and its history."""

from __future__ import annotations

from dataclasses import dataclass

from application.ports import AuditEntry, UnitOfWorkFactory
from domain.errors import NotFound
from domain.transaction import Transaction


@dataclass(frozen=True, slots=True)
class TransactionDetails:
    transaction: Transaction
    history: list[AuditEntry]


class GetTransaction:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, transaction_id: str) -> TransactionDetails:
        async with self._uow() as uow:
            tx = await uow.transactions.get(transaction_id)
            if tx is None:
                raise NotFound(f"transaction {transaction_id} does not exist")
            history = await uow.audit.history("transaction", tx.id)
        return TransactionDetails(tx, history)
