"""Store a transaction together with everything its changes require.

Every write path (dispatch, callbacks, reconciliation) goes through here, so
a state change, its ledger journals, its outbox events and its audit entries
(who: the actor bound in application.log_context) always commit together.
"""

from __future__ import annotations

from application.log_context import current_actor
from application.ports import UnitOfWork
from domain.ledger import journals_for
from domain.transaction import Transaction


async def store(uow: UnitOfWork, tx: Transaction, *, new: bool = False) -> None:
    """Write ``tx`` and book its journals in ``uow`` (the caller commits).

    Raises InsufficientFunds when a withdrawal hold is not covered; the unit
    of work is then rolled back, leaving no trace of the transaction.
    """
    # Read the events before the repository hands them to the outbox.
    events = list(tx.events)
    journals = journals_for(tx, events)
    if new:
        await uow.transactions.add(tx)
    else:
        await uow.transactions.save(tx)
    for journal in journals:
        await uow.ledger.post(journal)
    actor = current_actor() or "system"
    for event in events:
        await uow.audit.record(
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
