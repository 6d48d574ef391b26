"""Deposit: move a user's money in through the best gateway for their country."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from application.dispatch import GatewayDispatcher
from application.ports import Clock, GatewayAvailability, IdGenerator, UnitOfWorkFactory
from application.routing import route_payment
from domain.money import Money
from domain.transaction import Transaction, TransactionType


@dataclass(frozen=True, slots=True)
class DepositCommand:
    user_id: int
    amount: Decimal | str | int
    currency: str


class Deposit:
    """Create the transaction, then hand it to the gateways in priority order.

    The user's available balance is credited only when the gateway confirms
    the payment (callback or reconciliation), never on acceptance.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        dispatcher: GatewayDispatcher,
        availability: GatewayAvailability,
        clock: Clock,
        ids: IdGenerator,
    ) -> None:
        self._uow = uow
        self._dispatcher = dispatcher
        self._availability = availability
        self._clock = clock
        self._ids = ids

    async def execute(self, command: DepositCommand) -> Transaction:
        money = Money.parse(command.amount, command.currency)
        user, routes = await route_payment(
            self._uow, self._availability, command.user_id, TransactionType.DEPOSIT, money
        )
        tx = Transaction.create(
            transaction_id=self._ids.new_id(),
            type=TransactionType.DEPOSIT,
            user_id=user.id,
            money=money,
            now=self._clock.now(),
        )
        return await self._dispatcher.dispatch(tx, routes)
