"""Port for the wallet ledger's balances."""

from __future__ import annotations

from typing import Protocol

from domain.ledger import Balance


class Ledger(Protocol):
    """The double-entry wallet ledger (see domain/ledger.py).

    Journals are booked by the unit of work's commit from the transactions'
    events; commit raises InsufficientFunds when a user account would go
    below zero (check and update are one atomic step, so concurrent
    withdrawals cannot overspend) and LedgerLimitExceeded when a balance
    would leave the stored range.
    """

    async def balances(self, user_id: int) -> list[Balance]:
        """Available and held balance per currency."""
