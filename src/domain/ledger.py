"""The wallet ledger: double-entry postings per (user, currency).

Each user has an ``available`` and a ``held`` account per currency; money
that enters or leaves the platform is booked against one ``external``
(gateway clearing) account per currency, the only account allowed below zero.
A journal's postings always sum to zero, so money is never created or lost.

Which journals a transaction produces follows from its state changes:
- withdrawal created   -> hold:    available -> held (refused if not covered)
- withdrawal completed -> payout:  held -> external
- withdrawal failed    -> release: held -> available
- deposit completed    -> credit:  external -> available
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from domain.errors import InvalidInput
from domain.transaction import Transaction, TransactionEvent, TransactionType


class AccountKind(StrEnum):
    AVAILABLE = "available"
    HELD = "held"
    EXTERNAL = "external"


@dataclass(frozen=True, slots=True, order=True)
class Account:
    user_id: int | None  # None for the platform's external clearing account
    currency: str
    kind: AccountKind


@dataclass(frozen=True, slots=True)
class Posting:
    account: Account
    amount_minor: int  # signed: positive credits the account, negative debits it


@dataclass(frozen=True, slots=True)
class Journal:
    """One balanced movement, at most one per (transaction, kind)."""

    transaction_id: str
    kind: str
    postings: tuple[Posting, ...]

    def __post_init__(self) -> None:
        if len(self.postings) < 2:
            raise InvalidInput("a journal needs at least two postings")
        if sum(p.amount_minor for p in self.postings) != 0:
            raise InvalidInput(f"journal {self.kind} does not sum to zero")
        if len({p.account.currency for p in self.postings}) != 1:
            raise InvalidInput(f"journal {self.kind} mixes currency")


@dataclass(frozen=True, slots=True)
class Balance:
    currency: str
    available_minor: int
    held_minor: int


def _move(tx: Transaction, kind: str, source: Account, target: Account) -> Journal:
    amount = tx.money.minor
    return Journal(tx.id, kind, (Posting(source, -amount), Posting(target, amount)))


def journals_for(tx: Transaction, events: Iterable[TransactionEvent]) -> list[Journal]:
    """The ledger movements the given state changes of ``tx`` require."""
    currency = tx.money.currency.code
    available = Account(tx.user_id, currency, AccountKind.AVAILABLE)
    held = Account(tx.user_id, currency, AccountKind.HELD)
    external = Account(None, currency, AccountKind.EXTERNAL)
    journals: list[Journal] = []
    for event in events:
        if tx.type is TransactionType.WITHDRAWAL:
            if event.type == "transaction.created":
                journals.append(_move(tx, "withdrawal.hold", available, held))
            elif event.type == "transaction.completed":
                journals.append(_move(tx, "withdrawal.payout", held, external))
            elif event.type == "transaction.failed":
                journals.append(_move(tx, "withdrawal.release", held, available))
        elif event.type == "transaction.completed":
            journals.append(_move(tx, "deposit.credit", external, available))
    return journals
