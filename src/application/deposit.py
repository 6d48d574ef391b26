"""Deposit: move a user's money in through the best gateway for their country.

The whole flow, in the order ``Deposit.execute`` runs it:

1. ``Money.parse``: the amount exactly, in a currency we know (domain/money.py).
2. ``steps.route``: the user's country decides the gateways: its routing
   document (tiers, strategy, rules; domain/routing_config.py), restricted to
   those serving deposits in this currency (application/routing.py).
3. ``steps.open``: the transaction, ``pending``, under the id the request's
   Idempotency-Key reserved (if any).
4. ``steps.dispatch``: the plan orders the gateways for this transaction id
   (a weighted draw is sticky by id; domain/routing_plan.py), gateways that
   are down, unhealthy or behind an open breaker go to the back. Then
   (application/dispatch.py) one commit records the transaction and its
   first attempt *before* the gateway is called; then
   each gateway in turn, with retries, backoff and its circuit breaker inside
   the adapter. The first acceptance is recorded with the gateway's reference
   (``processing``); a decline is final (402); when every gateway failed the
   transaction fails (503).
5. Later, the gateway's signed callback (application/apply_callback.py) or the
   reconciler (application/reconcile.py) completes it; only then is the
   user's wallet credited (domain/ledger.py), never on acceptance.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from application.payment_steps import PaymentSteps
from domain.money import Money
from domain.transaction import Transaction, TransactionType


@dataclass(frozen=True, slots=True)
class DepositCommand:
    user_id: int
    amount: Decimal | str | int
    currency: str


class Deposit:
    """Create the deposit, then hand it to the gateways in its route's order."""

    def __init__(self, steps: PaymentSteps) -> None:
        self._steps = steps

    async def execute(self, command: DepositCommand) -> Transaction:
        money = Money.parse(command.amount, command.currency)
        user, plan = await self._steps.route(command.user_id, TransactionType.DEPOSIT, money)
        tx = self._steps.open(TransactionType.DEPOSIT, user, money)
        admit = await self._steps.admission(user, tx)
        return await self._steps.dispatch(tx, plan, admit)
