"""Deposit: move a user's money in through the best gateway for their country."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from application.dispatch import GatewayDispatcher
from application.ports import Clock, IdGenerator, UnitOfWorkFactory
from application.routing import eligible_routes
from domain.errors import NotFound
from domain.money import Money
from domain.transaction import Transaction, TransactionType


@dataclass(frozen=True, slots=True)
class DepositCommand:
    user_id: int
    amount: Decimal | str | int
    currency: str


class Deposit:
    """Create the transaction, then hand it to the gateways in priority order."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        dispatcher: GatewayDispatcher,
        clock: Clock,
        ids: IdGenerator,
    ) -> None:
        self._uow = uow
        self._dispatcher = dispatcher
        self._clock = clock
        self._ids = ids

    async def execute(self, command: DepositCommand) -> Transaction:
        money = Money.parse(command.amount, command.currency)
        async with self._uow() as uow:
            user = await uow.users.get(command.user_id)
            if user is None:
                raise NotFound(f"user {command.user_id} does not exist")
            routes = await eligible_routes(uow, user, TransactionType.DEPOSIT, money)
        tx = Transaction.create(
            transaction_id=self._ids.new_id(),
            type=TransactionType.DEPOSIT,
            user_id=user.id,
            money=money,
            now=self._clock.now(),
        )
        return await self._dispatcher.dispatch(tx, routes)
