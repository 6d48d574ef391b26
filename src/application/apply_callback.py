"""Apply stored, verified callbacks to their transactions, a batch at a time.

Run by the worker (the relay in-process, the Kafka consumer, the retry
sweep). A batch is one database transaction: the inbox rows and the
transactions are read (and locked) together, every callback is applied in
memory, and the unit of work writes the lot in one flush. If that fails
because one callback cannot be applied, the batch is applied again one
callback per savepoint, so only the bad one fails: it is counted in the
inbox and retried later with backoff, and quarantined as a reconciliation
issue after ``max_attempts``. No single bad callback stops settlement for
anyone else.

Safe to run any number of times for one callback (at-least-once delivery):
the inbox row records the result in the same database transaction as the
state change, and a callback already dealt with is skipped. A callback that
names another gateway, another gateway reference, amount or currency than the
accepted attempt's (``Transaction.check_settlement``), or contradicts a
terminal state is never applied: it is flagged for reconciliation instead.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from application.log_context import bind_actor, bind_transaction
from application.ports import Clock, GatewayCallback, InboxState, UnitOfWork, UnitOfWorkFactory
from application.settle import MAX_RETRIES, FinalStatus, SettleCommand, settle_in
from domain.errors import ConcurrentUpdate, ServiceUnavailable
from domain.transaction import Transaction

log = logging.getLogger(__name__)

DONE = frozenset({"applied", "duplicate", "flagged", "quarantined"})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How a callback whose apply raises is retried before it is quarantined."""

    max_attempts: int = 5
    base_s: float = 1.0
    cap_s: float = 60.0

    def delay_s(self, attempt: int) -> float:
        """Full jitter: uniform in [cap/2, cap] of the exponential step (never 0)."""
        step = min(self.cap_s, self.base_s * 2 ** (attempt - 1))
        return random.uniform(step / 2, step)


class ApplyCallbacks:
    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, retry: RetryPolicy | None = None
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._retry = retry or RetryPolicy()

    async def execute(self, callbacks: Sequence[GatewayCallback]) -> list[str]:
        """The inbox status each callback ends in: applied, duplicate, flagged,
        retrying or quarantined. Raises ServiceUnavailable when the database is
        not there (nothing was applied: deliver the batch again later).
        """
        if not callbacks:
            return []
        for _ in range(MAX_RETRIES):
            try:
                results = await self._together(callbacks)
                break
            except ConcurrentUpdate:
                continue  # a transaction moved under us: read them again
            except ServiceUnavailable:
                raise
            except Exception as exc:  # one of them cannot be applied: find which
                log.warning("a batch of %d callbacks failed (%s)", len(callbacks), exc)
                results = await self._one_by_one(callbacks)
                break
        else:
            results = await self._one_by_one(callbacks)
        counts = Counter(results)
        log.info("callbacks applied: %s", dict(counts), extra={"callbacks": len(results)})
        return results

    async def _together(self, callbacks: Sequence[GatewayCallback]) -> list[str]:
        async with self._uow() as uow:
            states = await _load(uow, callbacks)
            seen: dict[tuple[str, str], str] = {}
            results = [await self._apply(uow, cb, states, seen) for cb in callbacks]
            await uow.commit()
        return results

    async def _one_by_one(self, callbacks: Sequence[GatewayCallback]) -> list[str]:
        async with self._uow() as uow:
            states = await _load(uow, callbacks)
            seen: dict[tuple[str, str], str] = {}
            results = []
            for cb in callbacks:
                try:
                    async with uow.savepoint():
                        result = await self._apply(uow, cb, states, seen)
                except ServiceUnavailable:
                    raise
                except Exception as exc:
                    result = await self._failed(uow, cb, states, exc)
                    seen[(cb.gateway_id, cb.event_id)] = result
                results.append(result)
            await uow.commit()
        return results

    async def _apply(
        self,
        uow: UnitOfWork,
        callback: GatewayCallback,
        states: dict[tuple[str, str], InboxState],
        seen: dict[tuple[str, str], str],
    ) -> str:
        key = (callback.gateway_id, callback.event_id)
        if key in seen:
            return seen[key]  # delivered twice in one batch: dealt with above
        previous = states.get(key)
        if previous is not None and previous.status in DONE:
            return previous.status
        with (
            bind_actor(f"gateway:{callback.gateway_id}"),
            bind_transaction(callback.transaction_id),
        ):
            tx = await uow.transactions.get(callback.transaction_id)
            problem = _mismatch(tx, callback)
            if tx is None or problem:
                status = await flag_callback(uow, callback, problem or "unknown transaction")
            else:
                status = await self._settle(uow, tx, callback)
        seen[key] = status
        return status

    async def _settle(self, uow: UnitOfWork, tx: Transaction, callback: GatewayCallback) -> str:
        result = await settle_in(
            uow,
            tx,
            SettleCommand(
                transaction_id=tx.id,
                status=FinalStatus(callback.status),
                message=callback.message,
                reference_id=callback.reference_id,
            ),
            self._clock,
        )
        if result.contradiction:
            return await flag_callback(
                uow, callback, f"gateway says {callback.status}, transaction is {tx.status}"
            )
        status = "applied" if result.applied else "duplicate"
        await uow.inbox.resolve(callback.gateway_id, callback.event_id, status, str(tx.status))
        log.debug("callback %s %s: transaction is %s", callback.event_id, status, tx.status)
        return status

    async def _failed(
        self,
        uow: UnitOfWork,
        callback: GatewayCallback,
        states: dict[tuple[str, str], InboxState],
        exc: Exception,
    ) -> str:
        """Count the failure; schedule a retry, or quarantine past the last one."""
        key = (callback.gateway_id, callback.event_id)
        previous = states.get(key)
        attempt = (previous.apply_attempts if previous else 0) + 1
        error = f"{type(exc).__name__}: {exc}"
        if attempt < self._retry.max_attempts:
            delay = self._retry.delay_s(attempt)
            retry_at = self._clock.now() + timedelta(seconds=delay)
            log.warning(
                "callback %s/%s for %s failed (attempt %d, retry in %.1f s): %s",
                *key,
                callback.transaction_id,
                attempt,
                delay,
                error,
            )
            await uow.inbox.record_failure(*key, error, retry_at)
            return "retrying"
        log.error(
            "callback %s/%s for %s quarantined after %d attempts: %s",
            *key,
            callback.transaction_id,
            attempt,
            error,
        )
        await uow.inbox.record_failure(*key, error, None)
        await uow.issues.flag(
            callback.transaction_id,
            callback.gateway_id,
            f"callback_quarantined:{callback.event_id}",
            f"callback {callback.event_id} could not be applied after {attempt} attempts: {error}",
        )
        return "quarantined"


async def _load(
    uow: UnitOfWork, callbacks: Sequence[GatewayCallback]
) -> dict[tuple[str, str], InboxState]:
    """Lock the batch's inbox rows and transactions (in a fixed order: no deadlocks)."""
    states = await uow.inbox.lock([(cb.gateway_id, cb.event_id) for cb in callbacks])
    await uow.transactions.get_many([cb.transaction_id for cb in callbacks], lock=True)
    return states


async def flag_callback(uow: UnitOfWork, callback: GatewayCallback, detail: str) -> str:
    """Resolve a stored callback as flagged and raise its reconciliation issue (with the commit)."""
    log.warning(
        "callback %s/%s for %s flagged: %s",
        callback.gateway_id,
        callback.event_id,
        callback.transaction_id,
        detail,
    )
    await uow.inbox.resolve(callback.gateway_id, callback.event_id, "flagged", detail)
    await uow.issues.flag(
        callback.transaction_id,
        callback.gateway_id,
        f"callback:{callback.event_id}",
        f"callback {callback.event_id} not applied: {detail}",
    )
    return "flagged"


def _mismatch(tx: Transaction | None, callback: GatewayCallback) -> str | None:
    if callback.mismatch:
        return callback.mismatch  # flagged on receipt, never queued: a second line of defence
    if tx is None:
        return None
    asked = {a.gateway_id for a in tx.attempts}
    current = tx.current_attempt()
    expected = current.gateway_id if current else None
    if callback.gateway_id != expected:
        # e.g. a late answer from a gateway we fell back from: money may sit there.
        where = "an abandoned attempt" if callback.gateway_id in asked else "a gateway never asked"
        return f"callback from {callback.gateway_id} ({where}); transaction is with {expected}"
    mismatch = tx.check_settlement(callback.reference_id, callback.amount_minor, callback.currency)
    if mismatch is not None:
        return mismatch.detail
    if callback.status not in ("completed", "failed"):
        return f"unknown status {callback.status!r}"
    return None
