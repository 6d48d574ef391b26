"""A country's gateways in the order routing would try them now (admin key)."""

from __future__ import annotations

from dataclasses import dataclass

from application.ports import GatewayAvailability, UnitOfWorkFactory
from domain.errors import NotFound
from domain.routing import by_priority, ready_first


@dataclass(frozen=True, slots=True)
class RouteStanding:
    """One gateway of a country's priority list, as routing sees it now."""

    gateway_id: str
    priority: int
    enabled: bool  # the operator's up/down switch
    available: bool  # breaker and health checks allow calls (GatewayAvailability)


@dataclass(frozen=True, slots=True)
class CountryRouteOrder:
    country: str
    routes: list[RouteStanding]  # the whole priority list, best first
    next_tries: list[RouteStanding]  # the enabled ones, in the order a payment tries them


class GetCountryRouteOrder:
    """The priority list with what this process knows of each gateway, and the resulting order.

    The order holds for a payment every listed gateway can carry: route_payment
    also drops those that do not serve the payment's operation or currency.
    """

    def __init__(self, uow: UnitOfWorkFactory, availability: GatewayAvailability) -> None:
        self._uow = uow
        self._availability = availability

    async def execute(self, country: str) -> CountryRouteOrder:
        async with self._uow() as uow:
            if not await uow.routing.country_exists(country):
                raise NotFound(f"country {country} is not configured")
            routes = await uow.routing.routes_for_country(country)
        # rank_gateways' order, without its operation and currency filter.
        ranked = by_priority(routes)
        # Asked once per gateway: a breaker may change state between two calls.
        available = {r.gateway_id: self._availability.is_available(r.gateway_id) for r in ranked}
        standings = {
            r.gateway_id: RouteStanding(
                r.gateway_id, r.priority, r.enabled, available[r.gateway_id]
            )
            for r in ranked
        }
        tries = ready_first([r for r in ranked if r.enabled], available.__getitem__)
        return CountryRouteOrder(
            country,
            routes=[standings[r.gateway_id] for r in ranked],
            next_tries=[standings[r.gateway_id] for r in tries],
        )
