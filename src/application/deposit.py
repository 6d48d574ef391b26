"""Deposit: move a user's money in through the best gateway for their country."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from application.start_payment import StartPayment
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

    def __init__(self, payments: StartPayment) -> None:
        self._payments = payments

    async def execute(self, command: DepositCommand) -> Transaction:
        money = Money.parse(command.amount, command.currency)
        return await self._payments.start(TransactionType.DEPOSIT, command.user_id, money)
