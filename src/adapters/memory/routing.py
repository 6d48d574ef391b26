"""In-memory UserRepository and RoutingRepository (reference data)."""

from __future__ import annotations

from dataclasses import replace

from adapters.memory.store import Staged
from application.ports import GatewayInfo
from domain.routing import GatewayRoute, Priority
from domain.routing_config import RoutingConfig, from_priorities
from domain.transaction import TransactionType
from domain.user import User


class MemoryUserRepository:
    def __init__(self, staged: Staged) -> None:
        self._staged = staged

    async def get(self, user_id: int) -> User | None:
        return self._staged.users.get(user_id) or self._staged.store.users.get(user_id)

    async def upsert(self, user: User) -> bool:
        created = await self.get(user.id) is None
        self._staged.users[user.id] = user
        return created


class MemoryRoutingRepository:
    def __init__(self, staged: Staged) -> None:
        self._staged = staged

    def _gateways(self) -> dict[str, GatewayInfo]:
        return {**self._staged.store.gateways, **self._staged.gateways}

    def _priorities(self, country: str) -> list[Priority]:
        staged = self._staged.priorities.get(country)
        return list(staged if staged is not None else self._staged.store.priorities[country])

    async def routes_for_country(self, country: str) -> list[GatewayRoute]:
        if not await self.country_exists(country):
            return []
        gateways = self._gateways()
        return [
            GatewayRoute(
                gateway_id=p.gateway_id,
                priority=p.priority,
                operations=frozenset(TransactionType(o) for o in gateways[p.gateway_id].operations),
                currencies=gateways[p.gateway_id].currencies,
                enabled=gateways[p.gateway_id].admin_status == "up",
            )
            for p in self._priorities(country)
        ]

    async def country_exists(self, country: str) -> bool:
        return country in self._staged.store.priorities

    async def list_gateways(self) -> list[GatewayInfo]:
        return sorted(self._gateways().values(), key=lambda g: g.id)

    async def set_admin_status(self, gateway_id: str, status: str) -> bool:
        gateway = self._gateways().get(gateway_id)
        if gateway is None:
            return False
        self._staged.gateways[gateway_id] = replace(gateway, admin_status=status)
        return True

    async def country_priorities(self, country: str) -> list[Priority]:
        return sorted(self._priorities(country), key=lambda p: p.priority)

    async def replace_country_priorities(self, country: str, entries: list[Priority]) -> None:
        self._staged.priorities[country] = list(entries)

    async def routing_document(self, country: str) -> RoutingConfig | None:
        if not await self.country_exists(country):
            return None
        if country in self._staged.routing:
            staged = self._staged.routing[country]
        else:
            staged = self._staged.store.routing.get(country)
        return staged or from_priorities(self._priorities(country))

    async def save_routing_document(self, country: str, config: RoutingConfig) -> None:
        self._staged.routing[country] = config
        self._staged.priorities[country] = config.as_priorities()

    async def forget_routing_document(self, country: str) -> None:
        self._staged.routing[country] = None
