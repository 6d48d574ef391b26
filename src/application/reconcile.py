"""The reconciler: ask gateways for the truth about payments we are unsure of.

Two sweeps, in the spirit of Kill Bill's janitor for "unknown" payments:

1. Stuck transactions (pending or processing past a deadline): inquire the
   gateway under the attempt's idempotency reference and settle through the
   same guarded path as callbacks. A reference the gateway never received
   fails the transaction (releasing any held funds). This is the only way an
   ambiguous withdrawal is resolved when no callback comes.
2. Finished transactions with an attempt whose outcome we never learned (a
   timeout we fell back from): if that gateway did take the money, a human
   must refund it, so it is flagged.

Contradictions and answers naming another gateway reference, amount or
currency (``Transaction.check_settlement``) are never applied; they are flagged.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

from application.log_context import bind_actor, bind_transaction
from application.ports import (
    Clock,
    GatewayStatus,
    GatewayUnreachable,
    ProviderRegistry,
    UnitOfWork,
    UnitOfWorkFactory,
)
from application.settle import FinalStatus, SettleCommand, settle_in
from domain.errors import ConcurrentUpdate
from domain.transaction import Attempt, AttemptOutcome, Transaction, TransactionStatus

log = logging.getLogger(__name__)

UNSURE = (AttemptOutcome.IN_FLIGHT, AttemptOutcome.AMBIGUOUS)
_Action = Callable[[Transaction, UnitOfWork], Awaitable[str]]


@dataclass
class ReconcileReport:
    checked: int = 0
    completed: int = 0
    failed: int = 0
    still_open: int = 0
    flagged: int = 0
    unreachable: int = 0
    details: list[str] = field(default_factory=list)


class Reconcile:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        providers: ProviderRegistry,
        clock: Clock,
        *,
        stuck_after_s: float,
        lookback_s: float = 7 * 86400,
        batch_size: int = 100,
    ) -> None:
        self._uow = uow
        self._providers = providers
        self._clock = clock
        self._stuck_after = timedelta(seconds=stuck_after_s)
        self._lookback = timedelta(seconds=lookback_s)
        self._batch = batch_size

    async def execute(self) -> ReconcileReport:
        report = ReconcileReport()
        with bind_actor("reconciler"):
            now = self._clock.now()
            async with self._uow() as uow:
                stuck = await uow.transactions.stuck(
                    updated_before=now - self._stuck_after, limit=self._batch
                )
            for tx in stuck:
                with bind_transaction(tx.id):
                    await self._resolve(tx, report)
            async with self._uow() as uow:
                finished = await uow.transactions.unreconciled(
                    updated_before=now - self._stuck_after,
                    updated_after=now - self._lookback,
                    limit=self._batch,
                )
            for tx in finished:
                with bind_transaction(tx.id):
                    await self._check_abandoned(tx, report)
        if report.checked:
            log.info("reconciliation: %s", report)
        return report

    # -- sweep 1: stuck transactions -------------------------------------------------
    async def _resolve(self, tx: Transaction, report: ReconcileReport) -> None:
        report.checked += 1
        attempt = _open_attempt(tx)
        if attempt is not None and attempt.started_at > self._clock.now() - self._stuck_after:
            # Our own request may still be waiting for this call: not stuck yet.
            report.still_open += 1
            return
        if attempt is None:
            await self._apply(tx.id, report, lambda t, u: self._never_sent(t, None, u))
            return
        # A processing transaction knows the gateway's id for its accepted attempt.
        known = tx.reference_id if tx.status is TransactionStatus.PROCESSING else None
        answer = await self._inquire(attempt, report, known)
        if answer is None:
            return
        await self._apply(tx.id, report, lambda t, u: self._settle_from(t, attempt, answer, u))

    async def _apply(self, tx_id: str, report: ReconcileReport, action: _Action) -> None:
        try:
            async with self._uow() as uow:
                tx = await uow.transactions.get(tx_id)
                if tx is None or tx.status.is_terminal:
                    return  # settled meanwhile (a callback beat us)
                result = await action(tx, uow)
                await uow.commit()
        except ConcurrentUpdate:
            report.still_open += 1
            return
        if result == "completed":
            report.completed += 1
        elif result == "failed":
            report.failed += 1
        elif result == "flagged":
            report.flagged += 1
        else:
            report.still_open += 1
        report.details.append(f"{tx_id}: {result}")

    async def _settle_from(
        self, tx: Transaction, attempt: Attempt, answer: GatewayStatus, uow: UnitOfWork
    ) -> str:
        mine = tx.attempts[attempt.number - 1]
        if not answer.found:
            if mine.outcome is AttemptOutcome.ACCEPTED:
                # The gateway accepted it once; now it knows nothing: a human must look.
                return await self._flag(
                    uow,
                    tx,
                    mine,
                    "accepted_unknown_to_gateway",
                    "the gateway accepted this payment but has no record of it",
                )
            return await self._never_sent(tx, mine, uow)
        # The same rule as for callbacks: another reference, amount or currency is flagged.
        mismatch = tx.check_settlement(answer.reference_id, answer.amount_minor, answer.currency)
        if mismatch is not None:
            return await self._flag(uow, tx, mine, f"{mismatch.kind}_mismatch", mismatch.detail)
        now = self._clock.now()
        if mine.outcome is AttemptOutcome.IN_FLIGHT:
            tx.settle_attempt(mine.number, AttemptOutcome.ACCEPTED, latency_ms=0, error_code=None)
        await uow.transactions.mark_reconciled(tx.id, [mine.number])
        if answer.status not in ("completed", "failed"):
            if tx.status is TransactionStatus.PENDING:
                tx.mark_processing(
                    gateway_id=mine.gateway_id,
                    reference_id=answer.reference_id,
                    redirect_url=None,
                    message="Accepted by the gateway (found by reconciliation)",
                    now=now,
                )
            await uow.transactions.add(tx)
            return "still processing"
        result = await settle_in(
            uow,
            tx,
            SettleCommand(
                tx.id,
                FinalStatus(answer.status),
                f"Reconciled: the gateway reports {answer.status}",
                answer.reference_id,
            ),
            self._clock,
        )
        if result.contradiction:
            return await self._flag(
                uow, tx, mine, "contradiction", f"gateway says {answer.status}, we say {tx.status}"
            )
        return answer.status

    async def _never_sent(self, tx: Transaction, attempt: Attempt | None, uow: UnitOfWork) -> str:
        if attempt is not None:
            if attempt.outcome is AttemptOutcome.IN_FLIGHT:
                tx.settle_attempt(
                    attempt.number,
                    AttemptOutcome.NOT_SENT,
                    latency_ms=0,
                    error_code="never_received",
                )
            await uow.transactions.mark_reconciled(tx.id, [attempt.number])
        tx.fail(message="The gateway never received this payment", now=self._clock.now())
        await uow.transactions.add(tx)  # the commit releases a withdrawal's hold
        return "failed"

    # -- sweep 2: attempts we fell back from -----------------------------------------
    async def _check_abandoned(self, tx: Transaction, report: ReconcileReport) -> None:
        for attempt in tx.attempts:
            if attempt.outcome not in UNSURE:
                continue
            report.checked += 1
            answer = await self._inquire(attempt, report)
            if answer is None or answer.status == "processing":
                continue  # ask again next round
            async with self._uow() as uow:
                if answer.found and answer.status == "completed":
                    kind, detail = _money_left_behind(tx, attempt)
                    if kind:
                        await self._flag(uow, tx, attempt, kind, detail)
                        report.flagged += 1
                await uow.transactions.mark_reconciled(tx.id, [attempt.number])
                await uow.commit()

    # -- helpers ---------------------------------------------------------------------
    async def _inquire(
        self, attempt: Attempt, report: ReconcileReport, gateway_reference: str | None = None
    ) -> GatewayStatus | None:
        provider = self._providers.get(attempt.gateway_id)
        if provider is None:
            report.unreachable += 1
            return None
        try:
            return await provider.inquire(attempt.reference, gateway_reference)
        except GatewayUnreachable:
            report.unreachable += 1
            return None

    async def _flag(
        self, uow: UnitOfWork, tx: Transaction, attempt: Attempt, kind: str, detail: str
    ) -> str:
        log.warning("reconciliation issue on %s at %s: %s", tx.id, attempt.gateway_id, detail)
        await uow.issues.flag(tx.id, attempt.gateway_id, kind, detail)
        await uow.audit.record(
            "reconciler",
            "reconciliation.flagged",
            "transaction",
            tx.id,
            {"kind": kind, "gateway": attempt.gateway_id, "detail": detail},
        )
        return "flagged"


def _open_attempt(tx: Transaction) -> Attempt | None:
    """The attempt whose outcome decides a stuck transaction."""
    if tx.status is TransactionStatus.PROCESSING:
        return tx.attempt_at_gateway()
    unsure = [a for a in tx.attempts if a.outcome in UNSURE]
    return unsure[-1] if unsure else None


def _money_left_behind(tx: Transaction, attempt: Attempt) -> tuple[str | None, str]:
    if tx.status is TransactionStatus.FAILED:
        return (
            "gateway_completed_we_failed",
            f"{attempt.gateway_id} completed {attempt.reference} but the transaction failed",
        )
    winner = next((a for a in reversed(tx.attempts) if a.outcome is AttemptOutcome.ACCEPTED), None)
    if winner is not None and winner.reference != attempt.reference:
        return (
            "abandoned_attempt_completed",
            f"{attempt.gateway_id} also completed {attempt.reference}; "
            f"the transaction completed at {winner.gateway_id}: refund one",
        )
    return None, ""
