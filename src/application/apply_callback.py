"""Apply a stored, verified callback to its transaction (run by the worker).

Safe to run any number of times for one callback (at-least-once delivery):
the inbox row records the result in the same database transaction as the
state change, and a callback already dealt with is skipped. A callback that
names another gateway, another amount, or contradicts a terminal state is
never applied: it is flagged for reconciliation instead.
"""

from __future__ import annotations

import logging

from application.log_context import bind_actor, bind_transaction
from application.ports import Clock, GatewayCallback, UnitOfWork, UnitOfWorkFactory
from application.settle import MAX_RETRIES, FinalStatus, SettleCommand, settle_in
from domain.errors import ConcurrentUpdate
from domain.transaction import Transaction

log = logging.getLogger(__name__)

DONE = frozenset({"applied", "duplicate", "flagged"})


class ApplyCallback:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def execute(self, callback: GatewayCallback) -> str:
        """Returns the inbox status: applied, duplicate or flagged."""
        with (
            bind_actor(f"gateway:{callback.gateway_id}"),
            bind_transaction(callback.transaction_id),
        ):
            return await self._execute(callback)

    async def _execute(self, callback: GatewayCallback) -> str:
        for _ in range(MAX_RETRIES):
            try:
                async with self._uow() as uow:
                    status = await self._apply(uow, callback)
                    await uow.commit()
                    return status
            except ConcurrentUpdate:
                continue  # the transaction moved under us: read it again
        raise ConcurrentUpdate(
            f"transaction {callback.transaction_id} kept changing",
            transaction_id=callback.transaction_id,
        )

    async def _apply(self, uow: UnitOfWork, callback: GatewayCallback) -> str:
        previous = await uow.inbox.status_of(callback.gateway_id, callback.event_id)
        if previous in DONE:
            return previous or ""
        tx = await uow.transactions.get(callback.transaction_id)
        problem = _mismatch(tx, callback)
        if tx is None or problem:
            return await self._flag(uow, callback, problem or "unknown transaction")
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
            return await self._flag(
                uow, callback, f"gateway says {callback.status}, transaction is {tx.status}"
            )
        status = "applied" if result.applied else "duplicate"
        await uow.inbox.resolve(callback.gateway_id, callback.event_id, status, str(tx.status))
        log.info("callback %s %s: transaction is %s", callback.event_id, status, tx.status)
        return status

    async def _flag(self, uow: UnitOfWork, callback: GatewayCallback, detail: str) -> str:
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
    if tx is None:
        return None
    asked = {a.gateway_id for a in tx.attempts}
    expected = tx.gateway_id or (tx.attempts[-1].gateway_id if tx.attempts else None)
    if callback.gateway_id != expected:
        # e.g. a late answer from a gateway we fell back from: money may sit there.
        where = "an abandoned attempt" if callback.gateway_id in asked else "a gateway never asked"
        return f"callback from {callback.gateway_id} ({where}); transaction is with {expected}"
    if callback.amount_minor is not None and (
        callback.amount_minor != tx.money.minor or callback.currency != tx.money.currency.code
    ):
        return (
            f"amount mismatch: gateway {callback.amount_minor} {callback.currency}, "
            f"ours {tx.money.minor} {tx.money.currency.code}"
        )
    if callback.status not in ("completed", "failed"):
        return f"unknown status {callback.status!r}"
    return None
