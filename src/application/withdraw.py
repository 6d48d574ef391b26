"""Withdrawal: pay a user's money out, never more than their available balance.

The same steps as a deposit (application/deposit.py walks through them), with
two differences: the payout destination is checked (and later stored
encrypted), and the first commit of ``dispatch`` books the hold
(available -> held) in the same database transaction that creates the
withdrawal, so a withdrawal the balance does not cover is refused there
(InsufficientFunds) before any gateway is called, leaving no trace.
Completion pays the held amount out; failure releases it. A withdrawal whose
gateway answer was lost does not fall back (the money may be on its way).
In a closed-loop country it may become several legs (application/closed_loop.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from application.closed_loop import ClosedLoopPayout
from application.payment_steps import PaymentSteps
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
    """Hold the amount, then pay out through the gateways in priority order."""

    def __init__(self, steps: PaymentSteps, closed_loop: ClosedLoopPayout | None = None) -> None:
        self._steps = steps
        self._closed_loop = closed_loop

    async def execute(self, command: WithdrawCommand) -> Transaction:
        money = Money.parse(command.amount, command.currency)
        destination = _check_destination(command.destination)
        user, route = await self._steps.route(command.user_id, TransactionType.WITHDRAWAL, money)
        tx = self._steps.open(TransactionType.WITHDRAWAL, user, money, destination)
        admit = await self._steps.admission(user, tx)
        # Closed loop (the country's switch): legs back through the funding gateways.
        if self._closed_loop is not None and await self._steps.closed_loop(user):
            routes = route.for_transaction(tx.id)  # the normal route, for what is left
            legs = await self._closed_loop.plan(user, money, routes)
            if legs is not None:
                return await self._closed_loop.execute(tx, *legs, routes, admit)
        return await self._steps.dispatch(tx, route, admit)


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
