"""What deposits and withdrawals share: route, create, dispatch."""

from __future__ import annotations

from application.dispatch import GatewayDispatcher
from application.idempotency import take_reserved_id
from application.ports import Clock, GatewayAvailability, IdGenerator, UnitOfWorkFactory
from application.route_cache import RouteCache
from application.routing import route_payment
from domain.money import Money
from domain.transaction import Transaction, TransactionType


class StartPayment:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        dispatcher: GatewayDispatcher,
        availability: GatewayAvailability,
        clock: Clock,
        ids: IdGenerator,
        cache: RouteCache | None = None,
    ) -> None:
        self._uow = uow
        self._dispatcher = dispatcher
        self._availability = availability
        self._clock = clock
        self._ids = ids
        self._cache = cache

    async def start(
        self,
        type: TransactionType,
        user_id: int,
        money: Money,
        destination: dict[str, str] | None = None,
    ) -> Transaction:
        """Rank the user's gateways, create the transaction, run the attempts."""
        user, routes = await route_payment(
            self._uow, self._availability, user_id, type, money, self._cache
        )
        tx = Transaction.create(
            # Under an Idempotency-Key, the id the key already names (crash safety).
            transaction_id=take_reserved_id() or self._ids.new_id(),
            type=type,
            user_id=user.id,
            money=money,
            now=self._clock.now(),
            destination=destination,
        )
        return await self._dispatcher.dispatch(tx, routes)
