"""Admission: the money rules a new payment must pass, inside the unit that creates it.

Run by the dispatcher's first commit (application/dispatch.py), before the
transaction is written: the country's velocity limits (domain/limits.py) and,
for a withdrawal, the withdrawable balance (domain/withdrawable.py). The
reads take their locks in that same database transaction (see
adapters/postgres/limits.py), so two concurrent payments are admitted one
after the other, and a refused one leaves no trace (nothing is committed).
A deposit whose country has no per-day limit sends no extra statement.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from application.ports import Clock, UnitOfWork
from domain.limits import WINDOW, VelocityLimit, check_velocity
from domain.transaction import Transaction, TransactionType
from domain.withdrawable import refuse_above_withdrawable

# Awaited with the creating unit of work before the new transaction is added.
Admit = Callable[[UnitOfWork, Transaction], Awaitable[None]]


def admission(limit: VelocityLimit, operation: TransactionType, clock: Clock) -> Admit | None:
    """The check for a payment of ``operation`` under ``limit`` (None: nothing to check)."""
    withdrawal = operation is TransactionType.WITHDRAWAL
    if limit.unlimited and not withdrawal:
        return None

    async def admit(uow: UnitOfWork, tx: Transaction) -> None:
        now = clock.now()
        if not limit.needs_history and not withdrawal:
            check_velocity(limit, tx.money.minor, [], now)
            return
        seen = await uow.limits.admission(
            user_id=tx.user_id,
            currency=tx.money.currency.code,
            operation=tx.type,
            counted_since=now - WINDOW if limit.needs_history else None,
            funds_at=now if withdrawal else None,
        )
        check_velocity(limit, tx.money.minor, seen.recent, now)
        if seen.available_minor is not None:
            refuse_above_withdrawable(tx.money.minor, seen.available_minor, seen.in_window_minor)

    return admit
