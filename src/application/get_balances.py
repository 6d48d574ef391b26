"""Query: a user's wallet balances per currency."""

from __future__ import annotations

from application.ports import UnitOfWorkFactory
from domain.errors import NotFound
from domain.ledger import Balance


class GetBalances:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, user_id: int) -> list[Balance]:
        async with self._uow() as uow:
            if await uow.users.get(user_id) is None:
                raise NotFound(f"user {user_id} does not exist")
            balances = await uow.ledger.balances(user_id)
        return sorted(balances, key=lambda b: b.currency)
