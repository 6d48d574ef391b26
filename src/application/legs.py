"""A closed-loop withdrawal's parent follows its legs (domain/closed_loop.py).

The parent holds the whole amount (``withdrawal.hold``) and pays it out
(``withdrawal.payout``) when it completes, which is when every leg not failed
has completed and they add up to the amount; legs book nothing themselves
(domain.ledger.is_leg). Whoever settles a leg (a callback, the reconciler,
the request itself) calls ``follow_legs`` in the same unit of work; the
parent's row is locked first, so two legs completing at once are seen one
after the other and the last one completes the parent.
"""

from __future__ import annotations

from application.ports import Clock, UnitOfWork
from domain.ledger import is_leg
from domain.transaction import Transaction, TransactionStatus


async def follow_legs(uow: UnitOfWork, parent_id: str, clock: Clock) -> Transaction | None:
    """Move the parent on as its legs now stand (the caller commits); the parent."""
    parent = (await uow.transactions.get_many([parent_id], lock=True)).get(parent_id)
    if parent is None or parent.status.is_terminal:
        return parent
    legs = [c for c in await uow.transactions.refunds_of(parent.id) if is_leg(c)]
    alive = [leg for leg in legs if leg.status is not TransactionStatus.FAILED]
    if not alive:
        return parent  # the request itself decides (it may yet place the amount elsewhere)
    now = clock.now()
    if parent.status is TransactionStatus.PENDING:
        parent.mark_processing(
            gateway_id=alive[0].gateway_id or alive[0].attempts[-1].gateway_id,
            reference_id=None,
            redirect_url=None,
            message=f"Paying out in {len(alive)} leg(s)",
            now=now,
        )
        parent.gateway_id = None  # the legs name their gateways; the parent asks none itself
    placed = sum(leg.money.minor for leg in alive)
    if placed == parent.money.minor and all(
        leg.status is TransactionStatus.COMPLETED for leg in alive
    ):
        parent.complete(message="Every leg completed", now=now)
    await uow.transactions.add(parent)
    return parent


async def after_settled(uow: UnitOfWork, tx: Transaction, clock: Clock) -> None:
    """Called for every settled transaction: a leg's parent follows; a leg that failed
    after its gateway accepted it is a part still held, for an operator to place."""
    if not is_leg(tx) or tx.parent_transaction_id is None:
        return
    if tx.status is TransactionStatus.FAILED:
        await uow.issues.flag(
            tx.parent_transaction_id,
            tx.gateway_id,
            f"leg_failed:{tx.id}",
            f"leg {tx.id} of {tx.money.format()} {tx.money.currency.code} failed after its "
            "gateway accepted it; the parent still holds that part",
        )
        return
    await follow_legs(uow, tx.parent_transaction_id, clock)
