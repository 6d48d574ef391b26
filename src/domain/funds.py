"""No overdraft: the one home of the rule that a wallet never goes below zero.

A user's ``available`` and ``held`` accounts (domain/ledger.py) may never end
below zero; only the platform's ``external`` clearing account may, since its
balance is what the gateways owe us or we owe them. The rule holds for a
commit as a whole: the moves it books are netted per account, and the balance
each account ends with is what must be covered. Checking and updating are one
atomic step, so concurrent withdrawals cannot overspend.

The in-memory ledger calls ``refuse_overdraft``; PostgreSQL enforces the same
rule itself, atomically under the account's row lock (the
``ledger_accounts_non_negative`` CHECK and ``FUNDS_GUARD`` in
adapters/postgres/ledger.py).
"""

from __future__ import annotations

from collections.abc import Mapping

from domain.errors import InsufficientFunds
from domain.ledger import Account, AccountKind


def may_go_negative(account: Account) -> bool:
    """Only the external clearing account may be overdrawn."""
    return account.kind is AccountKind.EXTERNAL


def refuse_overdraft(balances_after: Mapping[Account, int]) -> None:
    """Raise InsufficientFunds when a user account would end a commit below zero."""
    for account, balance_minor in balances_after.items():
        if balance_minor < 0 and not may_go_negative(account):
            raise InsufficientFunds(
                f"insufficient {account.kind.value} balance in {account.currency}"
            )
