"""Refund: give a completed deposit's money back, through the gateway that took it.

The whole flow, in the order ``Refund.execute`` runs it:

1. ``_open``: one unit of work under the deposit's row lock (so two refunds
   of one deposit are decided one after the other): the deposit and its
   refunds so far decide what may be refunded (domain/refunds.py: only a
   completed deposit, never more than is left), the amount is parsed in the
   deposit's currency, and the refund is recorded ``pending`` with its first
   attempt in flight. The same commit books ``refund.hold`` (available ->
   held, domain/ledger.py): a user who already withdrew the money is refused
   there (InsufficientFunds) and nothing is recorded.
2. ``_call``: the deposit's gateway, never another (the money can only go
   back the way it came), with the deposit's PSP reference.
3. ``_record``: accepted -> ``processing`` (or ``completed`` when the gateway
   settled at once); declined -> ``failed`` (402), not sent or refused before
   acceptance -> ``failed`` (503), the hold released either way; an answer
   lost -> ``processing`` for the reconciler (the money may be moving).
4. Later the gateway's signed refund callback (application/apply_callback.py)
   or the reconciler's status inquiry settles it: ``refund.payout`` (held ->
   external) on completion, ``refund.release`` on failure.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from decimal import Decimal

from application.idempotency import take_reserved_id
from application.log_context import bind_transaction
from application.ports import (
    Clock,
    GatewayResult,
    IdGenerator,
    PaymentInstruction,
    ProviderRegistry,
    UnitOfWorkFactory,
)
from application.timing import add_gateway_time
from domain.errors import ConcurrentUpdate, GatewaysUnavailable, NotFound, PaymentDeclined
from domain.money import Money
from domain.refunds import open_refund
from domain.transaction import AttemptOutcome, Transaction, TransactionStatus

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RefundCommand:
    transaction_id: str  # the deposit to refund
    amount: Decimal | str | int | None = None  # None: all that is left
    reason: str | None = None


class Refund:
    """Hold the amount, then ask the deposit's gateway to give it back."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        providers: ProviderRegistry,
        clock: Clock,
        ids: IdGenerator,
    ) -> None:
        self._uow = uow
        self._providers = providers
        self._clock = clock
        self._ids = ids

    async def execute(self, command: RefundCommand) -> Transaction:
        """The refund as recorded; raises NotFound, NotRefundable, RefundExceedsPayment,
        InsufficientFunds, PaymentDeclined or GatewaysUnavailable."""
        refund, parent_reference = await self._open(command)
        with bind_transaction(refund.id):
            result = await self._call(refund, parent_reference)
            return await self._record(refund, result)

    async def _open(self, command: RefundCommand) -> tuple[Transaction, str | None]:
        async with self._uow() as uow:
            found = await uow.transactions.get_many([command.transaction_id], lock=True)
            deposit = found.get(command.transaction_id)
            if deposit is None:
                raise NotFound(f"transaction {command.transaction_id} does not exist")
            amount = (
                None
                if command.amount is None
                else Money.parse(command.amount, deposit.money.currency.code)
            )
            refund = open_refund(
                deposit,
                await uow.transactions.refunds_of(deposit.id),
                amount,
                # Under an Idempotency-Key, the id the key already names (crash safety).
                transaction_id=take_reserved_id() or self._ids.new_id(),
                now=self._clock.now(),
                reason=command.reason,
            )
            assert deposit.gateway_id is not None  # open_refund refuses a deposit without one
            refund.begin_attempt(deposit.gateway_id, self._clock.now())
            await uow.transactions.add(refund)
            await uow.commit()  # the hold: InsufficientFunds here leaves no trace
        return refund, deposit.reference_id

    async def _call(self, refund: Transaction, parent_reference: str | None) -> GatewayResult:
        attempt = refund.attempts[-1]
        provider = self._providers.get(attempt.gateway_id)
        if provider is None:
            log.warning("no adapter for gateway %s; cannot refund", attempt.gateway_id)
            return GatewayResult(outcome=AttemptOutcome.NOT_SENT, error_code="no_adapter", tries=0)
        instruction = PaymentInstruction(
            transaction_id=refund.id,
            reference=attempt.reference,
            type=refund.type,
            user_id=refund.user_id,
            amount=refund.money.format(),
            amount_minor=refund.money.minor,
            currency=refund.money.currency.code,
            parent_reference=parent_reference,
        )
        started = time.perf_counter()
        try:
            result = await provider.submit(instruction)
        except Exception:
            # Like the dispatcher: an escaped error may hide a sent request.
            log.exception("gateway adapter raised for %s", instruction.reference)
            result = GatewayResult(outcome=AttemptOutcome.AMBIGUOUS, error_code="adapter_error")
        elapsed_ms = (time.perf_counter() - started) * 1000
        add_gateway_time(elapsed_ms)
        refund.settle_attempt(
            attempt.number,
            result.outcome,
            latency_ms=round(elapsed_ms),
            error_code=result.error_code,
            tries=result.tries,
        )
        log.info("refund at %s: %s", attempt.gateway_id, result.outcome)
        return result

    async def _record(self, refund: Transaction, result: GatewayResult) -> Transaction:
        now = self._clock.now()
        gateway_id = refund.attempts[-1].gateway_id
        if result.outcome in (AttemptOutcome.ACCEPTED, AttemptOutcome.AMBIGUOUS):
            accepted = result.outcome is AttemptOutcome.ACCEPTED
            refund.mark_processing(
                gateway_id=gateway_id,
                reference_id=result.reference_id if accepted else None,
                redirect_url=None,
                message=(result.message or "Refund is being processed")
                if accepted
                else "Outcome unknown; awaiting the gateway's confirmation",
                now=now,
            )
            if accepted and result.completed:
                refund.complete(message=result.message or "Refund completed", now=now)
            return await self._save_outcome(refund)
        declined = result.outcome is AttemptOutcome.DECLINED
        refund.fail(
            message=result.message
            or ("Refused by the gateway" if declined else "The gateway is not available"),
            gateway_id=gateway_id,
            now=now,
        )
        refund = await self._save_outcome(refund)
        if refund.status is TransactionStatus.FAILED:
            error = PaymentDeclined if declined else GatewaysUnavailable
            raise error(refund.message or "refund failed", transaction_id=refund.id)
        return refund

    async def _save_outcome(self, refund: Transaction) -> Transaction:
        """Save the outcome, unless the gateway's callback settled it first (that wins)."""
        try:
            async with self._uow() as uow:
                await uow.transactions.add(refund)
                await uow.commit()
            return refund
        except ConcurrentUpdate:
            async with self._uow() as uow:
                current = await uow.transactions.get(refund.id)
                if current is None:
                    raise
                mine = refund.attempts[-1]
                if current.attempts[-1].outcome is AttemptOutcome.IN_FLIGHT:
                    current.settle_attempt(
                        mine.number,
                        mine.outcome,
                        latency_ms=mine.latency_ms or 0,
                        error_code=mine.error_code,
                        tries=mine.tries,
                    )
                await uow.commit()
            log.info("refund %s was settled by its gateway during the call", refund.id)
            return current
