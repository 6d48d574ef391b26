"""The wallet ledger: double-entry postings per (user, currency).

Each user has an ``available`` and a ``held`` account per currency; money
that enters or leaves the platform is booked against one ``external``
(gateway clearing) account per currency, the only account allowed below zero.
A journal's postings always sum to zero, so money is never created or lost.

Which journals a transaction produces follows from its state changes, and
``JOURNAL_RULES`` is the one place that says so: the booking
(``journals_for``) and the invariant checker (which hands the same table to
its SQL) both read it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from domain.errors import InvalidInput
from domain.transaction import (
    Transaction,
    TransactionEvent,
    TransactionStatus,
    TransactionType,
)


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
    # Of available, what may leave now (domain/withdrawable.py); None: not worked out.
    withdrawable_minor: int | None = None

    @property
    def withdrawable(self) -> int:
        """What may leave now (all of available unless worked out otherwise)."""
        return self.available_minor if self.withdrawable_minor is None else self.withdrawable_minor


@dataclass(frozen=True, slots=True)
class JournalRule:
    """One journal kind: who books it, when, and between which of the user's accounts."""

    kind: str
    type: TransactionType
    booked_on: TransactionStatus  # the state whose entry books it
    debit: AccountKind
    credit: AccountKind


JOURNAL_RULES: tuple[JournalRule, ...] = (
    # The hold is refused when available does not cover it (the database's
    # non-negative check), so a withdrawal can never spend money twice.
    JournalRule(
        "withdrawal.hold",
        TransactionType.WITHDRAWAL,
        TransactionStatus.PENDING,
        AccountKind.AVAILABLE,
        AccountKind.HELD,
    ),
    JournalRule(
        "withdrawal.payout",
        TransactionType.WITHDRAWAL,
        TransactionStatus.COMPLETED,
        AccountKind.HELD,
        AccountKind.EXTERNAL,
    ),
    JournalRule(
        "withdrawal.release",
        TransactionType.WITHDRAWAL,
        TransactionStatus.FAILED,
        AccountKind.HELD,
        AccountKind.AVAILABLE,
    ),
    JournalRule(
        "deposit.credit",
        TransactionType.DEPOSIT,
        TransactionStatus.COMPLETED,
        AccountKind.EXTERNAL,
        AccountKind.AVAILABLE,
    ),
    # A refund gives back money the deposit credited: held first like a
    # withdrawal (refused when the user already spent it), paid back to the
    # gateway on its confirmation, released when it fails.
    JournalRule(
        "refund.hold",
        TransactionType.REFUND,
        TransactionStatus.PENDING,
        AccountKind.AVAILABLE,
        AccountKind.HELD,
    ),
    JournalRule(
        "refund.payout",
        TransactionType.REFUND,
        TransactionStatus.COMPLETED,
        AccountKind.HELD,
        AccountKind.EXTERNAL,
    ),
    JournalRule(
        "refund.release",
        TransactionType.REFUND,
        TransactionStatus.FAILED,
        AccountKind.HELD,
        AccountKind.AVAILABLE,
    ),
)


def journals_for(tx: Transaction, events: Iterable[TransactionEvent]) -> list[Journal]:
    """The ledger movements the given state changes of ``tx`` require."""
    if is_leg(tx):
        return []
    currency = tx.money.currency.code
    accounts = {
        kind: Account(None if kind is AccountKind.EXTERNAL else tx.user_id, currency, kind)
        for kind in AccountKind
    }
    amount = tx.money.minor
    return [
        Journal(
            tx.id,
            rule.kind,
            (Posting(accounts[rule.debit], -amount), Posting(accounts[rule.credit], amount)),
        )
        for event in events
        for rule in JOURNAL_RULES
        # An event's snapshot holds the state the change entered.
        if rule.type is tx.type and rule.booked_on == event.data["status"]
    ]


def is_leg(tx: Transaction) -> bool:
    """A leg of a closed-loop withdrawal (domain/closed_loop.py) books nothing: its
    parent holds the whole amount once and pays it out when every leg completed."""
    return tx.type is TransactionType.WITHDRAWAL and tx.parent_transaction_id is not None


def journals_required(type_: TransactionType, status: TransactionStatus) -> tuple[str, ...]:
    """The journal kinds a transaction holds once at ``status``, sorted.

    Every transaction was pending first; the only other state that books a
    journal is the terminal one it is in (none books on processing, which a
    failed transaction may have skipped).
    """
    reached = {TransactionStatus.PENDING, status}
    return tuple(
        sorted(r.kind for r in JOURNAL_RULES if r.type is type_ and r.booked_on in reached)
    )
