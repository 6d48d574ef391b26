"""Withdrawal: pay a user's money out, never more than their available balance."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from application.start_payment import StartPayment
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

    def __init__(self, payments: StartPayment) -> None:
        self._payments = payments

    async def execute(self, command: WithdrawCommand) -> Transaction:
        money = Money.parse(command.amount, command.currency)
        destination = _check_destination(command.destination)
        return await self._payments.start(
            TransactionType.WITHDRAWAL, command.user_id, money, destination
        )


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
