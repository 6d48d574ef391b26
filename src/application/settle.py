"""Apply a gateway's final word (status inquiry, operator) to a transaction.

The guarded rules live in ``Transaction.settle``; this use case adds the unit
of work (whose commit books the ledger movements) and optimistic-lock retries.
Callbacks take the same path through ``apply_callback``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from application.legs import after_settled
from application.ports import Clock, UnitOfWork, UnitOfWorkFactory
from domain.errors import ConcurrentUpdate, NotFound
from domain.transaction import SettleOutcome, Transaction, TransactionStatus

MAX_RETRIES = 5  # optimistic-lock races with a concurrent writer


class FinalStatus(StrEnum):
    COMPLETED = "completed"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class SettleCommand:
    transaction_id: str
    status: FinalStatus
    message: str
    reference_id: str | None = None


@dataclass(frozen=True, slots=True)
class SettleResult:
    transaction: Transaction
    outcome: SettleOutcome

    @property
    def applied(self) -> bool:
        return self.outcome == "applied"

    @property
    def contradiction(self) -> bool:
        return self.outcome == "contradiction"


async def settle_in(
    uow: UnitOfWork, tx: Transaction, command: SettleCommand, clock: Clock
) -> SettleResult:
    """Settle ``tx`` inside the caller's unit of work (the caller commits)."""
    outcome = tx.settle(
        TransactionStatus(command.status.value),
        message=command.message,
        now=clock.now(),
        reference_id=command.reference_id,
    )
    if outcome == "applied":
        await uow.transactions.add(tx)
        await after_settled(uow, tx, clock)  # a closed-loop leg's parent follows it
    return SettleResult(tx, outcome)


class SettleTransaction:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def execute(self, command: SettleCommand) -> SettleResult:
        for _ in range(MAX_RETRIES):
            try:
                async with self._uow() as uow:
                    tx = await uow.transactions.get(command.transaction_id)
                    if tx is None:
                        raise NotFound(f"transaction {command.transaction_id} does not exist")
                    result = await settle_in(uow, tx, command, self._clock)
                    await uow.commit()
                    return result
            except ConcurrentUpdate:
                continue
        raise ConcurrentUpdate(
            f"transaction {command.transaction_id} kept changing",
            transaction_id=command.transaction_id,
        )
