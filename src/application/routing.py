"""Look up a payment's route: the user's country, its routing document and gateways.

The order itself is decided per transaction (a weighted draw is sticky by
transaction id), so ``route_payment`` answers a ``RoutePlan`` and the plan
orders the gateways once the transaction has its id.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from application.ports import GatewayAvailability, GatewayCapabilities, UnitOfWorkFactory
from application.ports.routing_stats import RoutingStatistics
from application.route_cache import RouteCache
from domain.errors import NoEligibleGateway, NotFound
from domain.money import Money
from domain.routing import GatewayRoute, ready_first
from domain.routing_config import RoutingConfig, Strategy, from_priorities
from domain.routing_plan import plan_route
from domain.routing_stats import GatewayStats, SuccessRatePolicy
from domain.transaction import TransactionType
from domain.user import User


@dataclass(frozen=True, slots=True)
class RoutePlan:
    """Everything a payment's gateway order depends on except its transaction id."""

    country: str
    config: RoutingConfig
    routes: list[GatewayRoute]
    operation: TransactionType
    money: Money
    is_available: Callable[[str], bool]
    stats: Mapping[str, GatewayStats] = field(default_factory=dict)
    policy: SuccessRatePolicy = field(default_factory=SuccessRatePolicy)

    def for_transaction(self, transaction_id: str) -> list[GatewayRoute]:
        """The gateways in the order this transaction tries them
        (domain/routing_plan.py: plan_route, then ready_first)."""
        planned = plan_route(
            self.config,
            self.routes,
            transaction_id,
            self.operation,
            self.money,
            self.stats,
            self.policy,
        )
        return ready_first(planned, self.is_available)


async def route_payment(
    uow_factory: UnitOfWorkFactory,
    availability: GatewayAvailability,
    user_id: int,
    operation: TransactionType,
    money: Money,
    cache: RouteCache | None = None,
    stats: RoutingStatistics | None = None,
    policy: SuccessRatePolicy | None = None,
    capabilities: GatewayCapabilities | None = None,
) -> tuple[User, RoutePlan]:
    """The user and their country's route plan for this payment."""
    user = cache.user(user_id) if cache else None
    country = user.country.value if user else None
    routes = cache.routes(country) if cache and country else None
    config = cache.config(country) if cache and country else None
    if user is None or routes is None or config is None:
        async with uow_factory() as uow:
            user = await uow.users.get(user_id)
            if user is None:
                raise NotFound(f"user {user_id} does not exist")
            routes = await uow.routing.routes_for_country(user.country.value)
            config = await uow.routing.routing_document(user.country.value)
        config = config or from_priorities([])
        if cache:
            cache.remember(user, routes, config)
    if capabilities is not None:
        # A gateway whose API cannot do this at all (Stripe pays no one out) is
        # no candidate, whatever its routing document says.
        routes = [r for r in routes if capabilities.offers(r.gateway_id, operation)]
    country = user.country.value
    plan = RoutePlan(
        country,
        config,
        routes,
        operation,
        money,
        availability.is_available,
        stats.snapshot(country) if stats and config.strategy is Strategy.SUCCESS_RATE else {},
        policy or SuccessRatePolicy(),
    )
    if not plan_route(config, routes, "", operation, money):
        raise NoEligibleGateway(
            f"no gateway serves {operation} in {money.currency.code} for country {country}"
        )
    return user, plan
