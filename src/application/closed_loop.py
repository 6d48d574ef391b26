"""Closed-loop payout: a withdrawal split into legs back through the gateways that funded it.

``plan`` decides whether it applies (the country's switch, and a source to
go back through) and the legs (domain/closed_loop.py: sources newest first,
each up to what it funded net of refunds and earlier returns; the rest by the
normal route). ``execute``:

1. records the parent, ``pending``, under the admission checks: its commit
   books ``withdrawal.hold`` of the whole amount (InsufficientFunds there
   leaves no trace);
2. sends each leg (a withdrawal transaction with ``parent_transaction_id``,
   its own attempts, idempotency references and callbacks) through the
   dispatcher, to its source gateway only, or by the normal route;
3. a leg refused at once (declined, or its gateway unavailable) fails and
   releases only its part: that part is planned again without that gateway
   (the next source, else the normal route), never more than was asked;
4. the parent then follows its legs (application/legs.py): ``processing``,
   and ``completed`` (paying the whole amount out) once every leg is. When
   no leg could be placed at all the parent fails and the hold is released;
   a part no route took is left held and raised as a reconciliation issue.

``capabilities`` says which gateways offer payouts (the ``stripe_api``
family does not): the others are no source, their share follows the
normal route.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

from application.admission import Admit
from application.dispatch import GatewayDispatcher
from application.legs import follow_legs
from application.ports import Clock, GatewayCapabilities, IdGenerator, UnitOfWorkFactory
from domain.closed_loop import FundingSource, PlannedLeg, plan_legs
from domain.errors import GatewaysUnavailable, PaymentDeclined
from domain.money import Money
from domain.routing import GatewayRoute
from domain.transaction import Transaction, TransactionStatus, TransactionType
from domain.user import User

log = logging.getLogger(__name__)


class ClosedLoopPayout:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        dispatcher: GatewayDispatcher,
        clock: Clock,
        ids: IdGenerator,
        capabilities: GatewayCapabilities,
    ) -> None:
        self._uow = uow
        self._dispatcher = dispatcher
        self._clock = clock
        self._ids = ids
        self._capabilities = capabilities

    async def plan(
        self, user: User, money: Money, routes: list[GatewayRoute]
    ) -> tuple[list[FundingSource], list[PlannedLeg]] | None:
        """The sources and legs, or None: no source can take any of it."""
        async with self._uow() as uow:
            sources = await uow.limits.funding_sources(user.id, money.currency.code)
        legs = plan_legs(money.minor, sources, can_pay_out=self._payable(routes))
        if all(leg.gateway_id is None for leg in legs):
            return None
        return sources, legs

    async def execute(
        self,
        parent: Transaction,
        sources: list[FundingSource],
        legs: list[PlannedLeg],
        routes: list[GatewayRoute],
        admit: Admit | None,
    ) -> Transaction:
        async with self._uow() as uow:
            if admit is not None:
                await admit(uow, parent)
            await uow.transactions.add(parent)
            await uow.commit()  # the hold of the whole amount
        used: dict[str, int] = {}
        for leg in legs:
            if leg.gateway_id is not None:
                used[leg.gateway_id] = used.get(leg.gateway_id, 0) + leg.amount_minor
        excluded: set[str] = set()
        queue, unplaced, refusal = list(legs), 0, None
        while queue:
            planned = queue.pop(0)
            try:
                await self._send(parent, planned, routes)
                continue
            except (PaymentDeclined, GatewaysUnavailable) as exc:
                refusal = exc
            if planned.gateway_id is None:
                unplaced += planned.amount_minor  # the normal route took none of it
                continue
            log.info("leg at %s refused; planning its part again", planned.gateway_id)
            excluded.add(planned.gateway_id)
            used[planned.gateway_id] -= planned.amount_minor
            left = [
                replace(s, returned_minor=s.returned_minor + used.get(s.gateway_id, 0))
                for s in sources
            ]
            again = plan_legs(
                planned.amount_minor, left, can_pay_out=self._payable(routes), exclude=excluded
            )
            for leg in again:
                if leg.gateway_id is not None:
                    used[leg.gateway_id] = used.get(leg.gateway_id, 0) + leg.amount_minor
            queue[0:0] = again
        return await self._finish(parent, unplaced, refusal)

    async def _send(
        self, parent: Transaction, planned: PlannedLeg, routes: list[GatewayRoute]
    ) -> None:
        leg = Transaction.create(
            transaction_id=self._ids.new_id(),
            type=TransactionType.WITHDRAWAL,
            user_id=parent.user_id,
            money=Money.of_minor(planned.amount_minor, parent.money.currency.code),
            now=self._clock.now(),
            destination=parent.destination,
            parent_transaction_id=parent.id,
            message=f"Leg of withdrawal {parent.id}",
        )
        own = [r for r in routes if planned.gateway_id in (None, r.gateway_id)]
        if planned.gateway_id is not None:
            leg.gateway_id = planned.gateway_id  # counts as returned through it from the start
        await self._dispatcher.dispatch(leg, own)

    async def _finish(
        self, parent: Transaction, unplaced: int, refusal: Exception | None
    ) -> Transaction:
        async with self._uow() as uow:
            current = await follow_legs(uow, parent.id, self._clock)
            assert current is not None
            if current.status is TransactionStatus.PENDING:
                # No leg was placed anywhere: nothing left the platform, release it all.
                current.fail(
                    message="No gateway took any part of the withdrawal", now=self._clock.now()
                )
                await uow.transactions.add(current)
            elif unplaced:
                await uow.issues.flag(
                    current.id,
                    None,
                    "legs_unplaced",
                    f"{Money.format_minor(unplaced, current.money.currency.code)} of this "
                    "withdrawal found no gateway; it is still held",
                )
            await uow.commit()
        if current.status is TransactionStatus.FAILED:
            error = PaymentDeclined if isinstance(refusal, PaymentDeclined) else GatewaysUnavailable
            raise error(current.message or "withdrawal failed", transaction_id=current.id)
        return current

    def _payable(self, routes: list[GatewayRoute]) -> Callable[[str], bool]:
        # A source must pay out in this country's routing (withdrawals, this currency) too.
        serving = {r.gateway_id for r in routes}
        return lambda gateway: (
            gateway in serving and self._capabilities.offers(gateway, TransactionType.WITHDRAWAL)
        )
