"""Look up and rank the gateways a payment may use."""

from __future__ import annotations

from application.ports import GatewayAvailability, GatewayCapabilities, UnitOfWorkFactory
from application.route_cache import RouteCache
from domain.errors import NoEligibleGateway, NotFound
from domain.money import Money
from domain.routing import GatewayRoute, rank_gateways, ready_first
from domain.transaction import TransactionType
from domain.user import User


async def route_payment(
    uow_factory: UnitOfWorkFactory,
    availability: GatewayAvailability,
    user_id: int,
    operation: TransactionType,
    money: Money,
    cache: RouteCache | None = None,
    capabilities: GatewayCapabilities | None = None,
) -> tuple[User, list[GatewayRoute]]:
    """The user and their country's gateways for this payment, best first
    (domain/routing.py: rank_gateways, then ready_first)."""
    user = cache.user(user_id) if cache else None
    routes = cache.routes(user.country.value) if cache and user else None
    if user is None or routes is None:
        async with uow_factory() as uow:
            user = await uow.users.get(user_id)
            if user is None:
                raise NotFound(f"user {user_id} does not exist")
            routes = await uow.routing.routes_for_country(user.country.value)
        if cache:
            cache.remember(user, routes)
    if capabilities is not None:
        # A gateway whose API cannot do this at all (Stripe pays no one out) is
        # no candidate, whatever its routing row says.
        routes = [r for r in routes if capabilities.offers(r.gateway_id, operation)]
    ranked = rank_gateways(routes, operation, money.currency.code)
    if not ranked:
        raise NoEligibleGateway(
            f"no gateway serves {operation} in {money.currency.code} for country "
            f"{user.country.value}"
        )
    return user, ready_first(ranked, availability.is_available)
