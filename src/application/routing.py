"""Look up and rank the gateways a payment may use."""

from __future__ import annotations

from application.ports import UnitOfWork
from domain.errors import NoEligibleGateway
from domain.money import Money
from domain.routing import GatewayRoute, rank_gateways
from domain.transaction import TransactionType
from domain.user import User


async def eligible_routes(
    uow: UnitOfWork, user: User, operation: TransactionType, money: Money
) -> list[GatewayRoute]:
    """The user's country's gateways for this operation and currency, best first."""
    routes = await uow.routing.routes_for_country(user.country.value)
    ranked = rank_gateways(routes, operation, money.currency.code)
    if not ranked:
        raise NoEligibleGateway(
            f"no gateway serves {operation} in {money.currency.code} for country "
            f"{user.country.value}"
        )
    return ranked
