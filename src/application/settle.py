"""Apply a gateway's final word (callback or status inquiry) to a transaction.

The one guarded path for completing or failing a processing transaction:
- the same outcome again is a no-op (duplicate callback);
- an outcome contradicting a terminal state is not applied: the caller gets
  ``contradiction=True`` to record and flag it for reconciliation;
- ledger movements commit with the state change (persistence.store).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from application.persistence import store
from application.ports import Clock, UnitOfWorkFactory
from domain.errors import ConcurrentUpdate, NotFound
from domain.transaction import Transaction, TransactionStatus


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
    applied: bool  # the state changed
    contradiction: bool  # the gateway disagrees with a terminal state we hold


class SettleTransaction:
    MAX_RETRIES = 5  # optimistic-lock races with a concurrent writer

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def execute(self, command: SettleCommand) -> SettleResult:
        for _ in range(self.MAX_RETRIES):
            try:
                return await self._once(command)
            except ConcurrentUpdate:
                continue
        raise ConcurrentUpdate(
            f"transaction {command.transaction_id} kept changing",
            transaction_id=command.transaction_id,
        )

    async def _once(self, command: SettleCommand) -> SettleResult:
        async with self._uow() as uow:
            tx = await uow.transactions.get(command.transaction_id)
            if tx is None:
                raise NotFound(f"transaction {command.transaction_id} does not exist")
            target = TransactionStatus(command.status.value)
            if tx.status is target:
                return SettleResult(tx, applied=False, contradiction=False)
            if tx.status.is_terminal:
                return SettleResult(tx, applied=False, contradiction=True)
            now = self._clock.now()
            if tx.status is TransactionStatus.PENDING:
                if not tx.attempts:
                    # No gateway was ever called: nothing can have an outcome.
                    return SettleResult(tx, applied=False, contradiction=True)
                # The gateway answered before our own request finished recording
                # its acceptance (or that answer was lost): accept, then settle.
                tx.mark_processing(
                    gateway_id=tx.attempts[-1].gateway_id,
                    reference_id=command.reference_id,
                    redirect_url=None,
                    message="Accepted by the gateway",
                    now=now,
                )
            if tx.reference_id is None and command.reference_id:
                tx.reference_id = command.reference_id
            if target is TransactionStatus.COMPLETED:
                tx.complete(message=command.message, now=now)
            else:
                tx.fail(message=command.message, now=now)
            await store(uow, tx)
            await uow.commit()
            return SettleResult(tx, applied=True, contradiction=False)
