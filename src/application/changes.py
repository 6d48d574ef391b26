"""What one aggregate's state change must write: the single fan-out rule.

Every unit of work calls ``collect`` at ``commit()`` for each transaction it
touched, and writes exactly what comes back: the state row (inserted when
never stored, else updated under the optimistic lock), the attempts that
changed, one outbox event and one audit entry per recorded event, and the
ledger journals those events require. Nothing else writes events, audit
entries or journals, so they cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from domain.ledger import Journal, journals_for
from domain.transaction import Attempt, Transaction, TransactionEvent


@dataclass(frozen=True, slots=True)
class AuditRecord:
    actor: str
    action: str
    subject_type: str
    subject_id: str
    details: dict[str, Any]


@dataclass(frozen=True, slots=True)
class TransactionChanges:
    """Everything one commit writes for one transaction."""

    transaction: Transaction
    new: bool  # insert rather than update
    loaded_version: int  # the version the update is guarded by
    attempts: list[Attempt]
    events: list[TransactionEvent]
    journals: list[Journal]
    audit: list[AuditRecord]

    @property
    def empty(self) -> bool:
        """Nothing to write (a loaded aggregate that did not change)."""
        tx = self.transaction
        return not (self.new or self.attempts or self.events or tx.version != self.loaded_version)


def collect(tx: Transaction, actor: str) -> TransactionChanges:
    """Take the aggregate's pending changes (exactly once) and fan them out."""
    events = tx.pull_events()
    return TransactionChanges(
        transaction=tx,
        new=tx.is_new,
        loaded_version=tx.loaded_version,
        attempts=tx.pull_changed_attempts(),
        events=events,
        journals=journals_for(tx, events),
        audit=[
            AuditRecord(
                actor,
                event.type,
                "transaction",
                tx.id,
                {
                    "version": event.version,
                    "status": event.data["status"],
                    "gateway": event.data["gateway"],
                    "message": event.data["message"],
                },
            )
            for event in events
        ],
    )


def has_changes(tx: Transaction) -> bool:
    """Whether ``tx`` holds changes not yet collected."""
    return bool(tx.is_new or tx.events or tx.changed_attempts or tx.version != tx.loaded_version)


def written(changes: TransactionChanges) -> None:
    """After a successful commit: the aggregate now matches storage."""
    changes.transaction.loaded_version = changes.transaction.version
