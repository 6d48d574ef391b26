"""Ports for routing reference data: gateways and country priority lists."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from domain.routing import GatewayRoute, Priority
from domain.routing_config import RoutingConfig


@dataclass(frozen=True, slots=True)
class GatewayInfo:
    """A gateway's configuration as stored."""

    id: str
    name: str
    format: str
    admin_status: str  # up | down (operator switch)
    operations: frozenset[str]
    currencies: frozenset[str]


class RoutingRepository(Protocol):
    """Countries, gateways and each country's priority list."""

    async def list_gateways(self) -> list[GatewayInfo]:
        """Every configured gateway, by id."""

    async def set_admin_status(self, gateway_id: str, status: str) -> bool:
        """Switch a gateway up or down; False when it does not exist."""

    async def country_priorities(self, country: str) -> list[Priority]:
        """The country's priority list, best first."""

    async def replace_country_priorities(self, country: str, entries: list[Priority]) -> None:
        """Replace the whole list atomically (within the unit of work)."""

    async def routes_for_country(self, country: str) -> list[GatewayRoute]:
        """Every gateway configured for the country, in no particular order."""

    async def country_exists(self, country: str) -> bool:
        """Whether the country is configured at all."""

    async def routing_document(self, country: str) -> RoutingConfig | None:
        """The country's routing document (its priority list if it has none); None: no country."""

    async def save_routing_document(self, country: str, config: RoutingConfig) -> None:
        """Store the document and its flattened priority list (within the unit of work)."""

    async def forget_routing_document(self, country: str) -> None:
        """Route by the plain priority list again."""
