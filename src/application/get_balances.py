"""Query: a user's wallet balances per currency, with what of them is withdrawable now."""

from __future__ import annotations

from dataclasses import replace

from application.ports import Clock, UnitOfWorkFactory
from domain.errors import NotFound
from domain.ledger import Balance
from domain.withdrawable import withdrawable_minor


class GetBalances:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def execute(self, user_id: int) -> list[Balance]:
        async with self._uow() as uow:
            if await uow.users.get(user_id) is None:
                raise NotFound(f"user {user_id} does not exist")
            balances = await uow.ledger.balances(user_id)
            in_window = await uow.limits.in_window(user_id, self._clock.now())
        return sorted(
            (
                replace(
                    b,
                    withdrawable_minor=withdrawable_minor(
                        b.available_minor, in_window.get(b.currency, 0)
                    ),
                )
                for b in balances
            ),
            key=lambda b: b.currency,
        )
