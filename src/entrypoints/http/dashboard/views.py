"""What the templates show, put together from use-case results.

Only shaping here: which gateway routing skips, and in what order it tries
the rest, are answered by the application (``GetCountryRouteOrder``).
"""

from __future__ import annotations

from dataclasses import dataclass

from application.country_route_order import CountryRouteOrder, RouteStanding
from domain.routing import Priority
from entrypoints.http.gateway_schemas import GatewayOut


@dataclass(frozen=True, slots=True)
class RouteRow:
    """One gateway in a country's list, with what routing sees of it now."""

    gateway_id: str
    priority: int
    enabled: bool
    available: bool
    gateway: GatewayOut | None  # None only if the gateway vanished meanwhile


@dataclass(frozen=True, slots=True)
class CountryRouting:
    code: str
    rows: list[RouteRow]  # the priority list, best first
    effective: list[RouteRow]  # the order the next payment tries


def country_routing(order: CountryRouteOrder, gateways: dict[str, GatewayOut]) -> CountryRouting:
    """A country's card on the routing page; ``gateways`` adds health and breaker to show."""

    def row(route: RouteStanding) -> RouteRow:
        return RouteRow(
            route.gateway_id,
            route.priority,
            route.enabled,
            route.available,
            gateways.get(route.gateway_id),
        )

    return CountryRouting(
        order.country,
        rows=[row(r) for r in order.routes],
        effective=[row(r) for r in order.next_tries],
    )


def describe(entries: list[Priority]) -> str:
    """A saved priority list in a message: ``paypal 1, stripe 2``."""
    return ", ".join(f"{e.gateway_id} {e.priority}" for e in entries)
