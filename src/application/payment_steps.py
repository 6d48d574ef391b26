"""The steps every payment takes; `Deposit` and `Withdraw` read them in order.

Each step is one call so that the use cases show the whole flow:
``route`` (user → their country's route plan), ``open`` (the transaction,
pending), ``admission`` (the money rules its creation must pass) and
``dispatch`` (order the gateways for this transaction id, record the intent,
try them in order, record the outcome; every finished attempt feeds
success_rate's windows).
"""

from __future__ import annotations

from application.admission import Admit, admission
from application.dispatch import GatewayDispatcher
from application.idempotency import take_reserved_id
from application.ports import (
    Clock,
    CountryLimits,
    GatewayAvailability,
    GatewayCapabilities,
    IdGenerator,
    UnitOfWorkFactory,
)
from application.ports.routing_stats import RoutingStatistics
from application.route_cache import RouteCache
from application.routing import RoutePlan, route_payment
from domain.limits import VelocityLimit
from domain.money import Money
from domain.routing_stats import SuccessRatePolicy
from domain.transaction import AttemptOutcome, Transaction, TransactionType
from domain.user import User


class PaymentSteps:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        dispatcher: GatewayDispatcher,
        availability: GatewayAvailability,
        clock: Clock,
        ids: IdGenerator,
        cache: RouteCache | None = None,
        capabilities: GatewayCapabilities | None = None,
        stats: RoutingStatistics | None = None,
        policy: SuccessRatePolicy | None = None,
    ) -> None:
        self._uow = uow
        self._capabilities = capabilities
        self._dispatcher = dispatcher
        self._availability = availability
        self._clock = clock
        self._ids = ids
        self._cache = cache
        self._stats = stats
        self._policy = policy

    async def route(
        self, user_id: int, type: TransactionType, money: Money
    ) -> tuple[User, RoutePlan]:
        """The user and the plan that orders the gateways once the transaction has its id."""
        return await route_payment(
            self._uow,
            self._availability,
            user_id,
            type,
            money,
            self._cache,
            self._stats,
            self._policy,
            self._capabilities,
        )

    def open(
        self,
        type: TransactionType,
        user: User,
        money: Money,
        destination: dict[str, str] | None = None,
    ) -> Transaction:
        """A new pending transaction (not yet stored: ``dispatch`` records it)."""
        return Transaction.create(
            # Under an Idempotency-Key, the id the key already names (crash safety).
            transaction_id=take_reserved_id() or self._ids.new_id(),
            type=type,
            user_id=user.id,
            money=money,
            now=self._clock.now(),
            destination=destination,
        )

    async def admission(self, user: User, tx: Transaction) -> Admit | None:
        """The checks the creating commit runs: the country's velocity limits
        (in its currency only) and, for withdrawals, the withdrawable balance."""
        limits = await self._country_limits(user)
        applies = limits.currency == tx.money.currency.code
        limit = limits.of(tx.type) if applies else VelocityLimit()
        return admission(limit, tx.type, self._clock)

    async def closed_loop(self, user: User) -> bool:
        """Whether the user's country sends withdrawals back the way the money came."""
        return (await self._country_limits(user)).closed_loop

    async def _country_limits(self, user: User) -> CountryLimits:
        # Cached with the routes (and dropped with them on any change).
        country = user.country.value
        limits = self._cache.limits(country) if self._cache else None
        if limits is None:
            async with self._uow() as uow:
                limits = await uow.limits.country_limits(country) or CountryLimits("")
            if self._cache:
                self._cache.remember_limits(country, limits)
        return limits

    async def dispatch(
        self, tx: Transaction, plan: RoutePlan, admit: Admit | None = None
    ) -> Transaction:
        """Record the intent (if ``admit`` passes), then the gateways in the
        plan's order until one takes it."""
        try:
            return await self._dispatcher.dispatch(tx, plan.for_transaction(tx.id), admit)
        finally:
            # Declines and failures raise: their attempts count all the same.
            if self._stats is not None:
                for attempt in tx.attempts:
                    if attempt.outcome is not AttemptOutcome.IN_FLIGHT:
                        self._stats.record(
                            plan.country, attempt.gateway_id, attempt.outcome, attempt.latency_ms
                        )
