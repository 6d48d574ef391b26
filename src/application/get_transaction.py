"""Query: one transaction with its attempts."""

from __future__ import annotations

from application.ports import UnitOfWorkFactory
from domain.errors import NotFound
from domain.transaction import Transaction


class GetTransaction:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, transaction_id: str) -> Transaction:
        async with self._uow() as uow:
            tx = await uow.transactions.get(transaction_id)
        if tx is None:
            raise NotFound(f"transaction {transaction_id} does not exist")
        return tx
