"""Withdrawal: pay a user's money out, never more than their available balance."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from application.dispatch import GatewayDispatcher
from application.ports import Clock, GatewayAvailability, IdGenerator, UnitOfWorkFactory
from application.routing import route_payment
from domain.errors import InvalidInput
from domain.money import Money
from domain.transaction import Transaction, TransactionType

MAX_DESTINATION_FIELDS = 20
MAX_DESTINATION_VALUE = 256


@dataclass(frozen=True, slots=True)
class WithdrawCommand:
    user_id: int
    amount: Decimal | str | int
    currency: str
    destination: dict[str, str] | None = None


class Withdraw:
    """Hold the amount, then pay out through the gateways in priority order.

    The hold (available -> held) is booked in the same database transaction
    that creates the withdrawal, before any gateway is called: a withdrawal
    the balance does not cover is refused (InsufficientFunds) and leaves no
    trace. Completion pays the held amount out; failure releases it.
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

    async def execute(self, command: WithdrawCommand) -> Transaction:
        money = Money.parse(command.amount, command.currency)
        destination = _check_destination(command.destination)
        user, routes = await route_payment(
            self._uow, self._availability, command.user_id, TransactionType.WITHDRAWAL, money
        )
        tx = Transaction.create(
            transaction_id=self._ids.new_id(),
            type=TransactionType.WITHDRAWAL,
            user_id=user.id,
            money=money,
            now=self._clock.now(),
            destination=destination,
        )
        return await self._dispatcher.dispatch(tx, routes)


def _check_destination(destination: dict[str, str] | None) -> dict[str, str] | None:
    if destination is None:
        return None
    if not destination or len(destination) > MAX_DESTINATION_FIELDS:
        raise InvalidInput(f"destination must have 1 to {MAX_DESTINATION_FIELDS} fields")
    for key, value in destination.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise InvalidInput("destination fields must be strings")
        if not key or len(key) > 64 or len(value) > MAX_DESTINATION_VALUE:
            raise InvalidInput("destination field too long")
    return dict(destination)
