"""Send a pending transaction to its ranked gateways until one takes it.

Shared by deposits and withdrawals. Failover policy per outcome class:
- accepted: the transaction moves to processing (or completed);
- declined: the transaction fails, no fallback (the customer was refused);
- not_sent / transient: the next gateway is tried (retries happen inside
  the resilient adapter before it reports transient);
- ambiguous: deposits fall back (a lost answer only cost a payment session);
  withdrawals stop and stay processing for the reconciler, since the money
  may already be on its way.
Every attempt is written as in-flight before its call, so a crash leaves a
trace of which idempotency references a gateway may have seen.
"""

from __future__ import annotations

import logging
import time

from application.admission import Admit
from application.log_context import bind_transaction
from application.ports import (
    Clock,
    GatewayResult,
    PaymentInstruction,
    PaymentProvider,
    ProviderRegistry,
    UnitOfWorkFactory,
)
from application.timing import add_gateway_time
from domain.errors import ConcurrentUpdate, GatewaysUnavailable, PaymentDeclined
from domain.routing import GatewayRoute
from domain.transaction import AttemptOutcome, Transaction, TransactionStatus, TransactionType

log = logging.getLogger(__name__)


class GatewayDispatcher:
    def __init__(self, uow: UnitOfWorkFactory, providers: ProviderRegistry, clock: Clock) -> None:
        self._uow = uow
        self._providers = providers
        self._clock = clock

    async def dispatch(
        self, tx: Transaction, routes: list[GatewayRoute], admit: Admit | None = None
    ) -> Transaction:
        """Run the attempts; returns the saved transaction or raises a payment error.

        ``admit`` (application/admission.py) runs in the unit of work that first
        stores the transaction; what it raises leaves nothing stored.
        """
        with bind_transaction(tx.id):
            return await self._dispatch(tx, routes, admit)

    async def _dispatch(
        self, tx: Transaction, routes: list[GatewayRoute], admit: Admit | None
    ) -> Transaction:
        for route in routes:
            provider = self._providers.get(route.gateway_id)
            if provider is None:
                log.warning("no adapter for gateway %s; skipping", route.gateway_id)
                continue
            attempt = tx.begin_attempt(route.gateway_id, self._clock.now())
            await self._save(tx, admit if tx.is_new else None)
            instruction = PaymentInstruction(
                transaction_id=tx.id,
                reference=attempt.reference,
                type=tx.type,
                user_id=tx.user_id,
                amount=tx.money.format(),
                amount_minor=tx.money.minor,
                currency=tx.money.currency.code,
            )
            started = time.perf_counter()
            result = await self._call(provider, instruction)
            elapsed_ms = (time.perf_counter() - started) * 1000
            add_gateway_time(elapsed_ms)
            latency_ms = round(elapsed_ms)
            tx.settle_attempt(
                attempt.number,
                result.outcome,
                latency_ms=latency_ms,
                error_code=result.error_code,
                tries=result.tries,
            )
            now = self._clock.now()
            # Accepted attempts are the common case (and in the audit trail):
            # DEBUG keeps them out of the hot path's log formatting.
            log.log(
                logging.DEBUG if result.outcome is AttemptOutcome.ACCEPTED else logging.INFO,
                "%s attempt %d at %s: %s in %d ms",
                tx.type,
                attempt.number,
                route.gateway_id,
                result.outcome,
                latency_ms,
                extra={"gateway": route.gateway_id, "error_code": result.error_code},
            )
            if result.outcome is AttemptOutcome.ACCEPTED:
                tx.mark_processing(
                    gateway_id=route.gateway_id,
                    reference_id=result.reference_id,
                    redirect_url=result.redirect_url,
                    message=result.message or "Transaction is being processed",
                    now=now,
                )
                tx.client_secret = result.client_secret
                if result.completed:
                    tx.complete(message=result.message or "Payment completed", now=now)
                return await self._save_outcome(tx)
            if result.outcome is AttemptOutcome.DECLINED:
                tx.fail(
                    message=result.message or "Declined by the gateway",
                    gateway_id=route.gateway_id,
                    now=now,
                )
                tx = await self._save_outcome(tx)
                if tx.status is TransactionStatus.FAILED:
                    raise PaymentDeclined(tx.message or "declined", transaction_id=tx.id)
                return tx
            if result.outcome is AttemptOutcome.AMBIGUOUS and tx.type is TransactionType.WITHDRAWAL:
                tx.mark_processing(
                    gateway_id=route.gateway_id,
                    reference_id=None,
                    redirect_url=None,
                    message="Outcome unknown; awaiting the gateway's confirmation",
                    now=now,
                )
                return await self._save_outcome(tx)
            log.info(
                "gateway %s gave %s for %s; trying the next one",
                route.gateway_id,
                result.outcome,
                tx.id,
            )
        # One unit of work: created (if no adapter was found at all) and failed.
        tx.fail(message="No payment gateway is available", now=self._clock.now())
        await self._save(tx, admit if tx.is_new else None)
        raise GatewaysUnavailable(tx.message or "unavailable", transaction_id=tx.id)

    async def _call(
        self, provider: PaymentProvider, instruction: PaymentInstruction
    ) -> GatewayResult:
        # Adapters classify their own failures; anything that still escapes is
        # a bug we must not turn into a double payment, so it counts as ambiguous.
        try:
            return await provider.submit(instruction)
        except Exception:
            log.exception("gateway adapter raised for %s", instruction.reference)
            return GatewayResult(outcome=AttemptOutcome.AMBIGUOUS, error_code="adapter_error")

    async def _save_outcome(self, tx: Transaction) -> Transaction:
        """Save what the call taught us, unless the gateway's word got there first.

        A fast callback (or the reconciler) can settle the transaction while
        our own request is still on its way back; that state wins, and we only
        add what the call taught us about our attempts.
        """
        try:
            await self._save(tx)
            return tx
        except ConcurrentUpdate:
            async with self._uow() as uow:
                current = await uow.transactions.get(tx.id)
                if current is None:
                    raise
                for attempt in tx.attempts:
                    mine = current.attempts[attempt.number - 1]
                    if mine.outcome is AttemptOutcome.IN_FLIGHT:
                        current.settle_attempt(
                            attempt.number,
                            attempt.outcome,
                            latency_ms=attempt.latency_ms or 0,
                            error_code=attempt.error_code,
                            tries=attempt.tries,
                        )
                if current.redirect_url is None:
                    current.redirect_url = tx.redirect_url
                current.client_secret = tx.client_secret
                await uow.commit()
            log.info("transaction %s was settled by its gateway during the call", tx.id)
            return current

    async def _save(self, tx: Transaction, admit: Admit | None = None) -> None:
        async with self._uow() as uow:
            if admit is not None:
                await admit(uow, tx)
            await uow.transactions.add(tx)
            await uow.commit()
