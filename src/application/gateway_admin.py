"""Operator views and switches for gateways (admin key)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from application.log_context import current_actor
from application.ports import GatewayInfo, GatewayRuntime, GatewayTelemetry, UnitOfWorkFactory
from application.ports.routing_stats import RoutingStatistics
from application.route_cache import RouteCache
from domain.errors import InvalidInput, NotFound
from domain.routing_stats import GatewayStats

ADMIN_STATUSES = ("up", "down")


@dataclass(frozen=True, slots=True)
class GatewayView:
    info: GatewayInfo
    runtime: GatewayRuntime
    # success_rate's windows by country (this process's, merged from every replica)
    routing: Mapping[str, GatewayStats] = field(default_factory=dict)


class ListGateways:
    """Configuration joined with what this process sees: health, breaker, latency."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        telemetry: GatewayTelemetry,
        stats: RoutingStatistics | None = None,
    ) -> None:
        self._uow = uow
        self._telemetry = telemetry
        self._stats = stats

    async def execute(self) -> list[GatewayView]:
        async with self._uow() as uow:
            gateways = await uow.routing.list_gateways()
        windows = self._stats.everywhere() if self._stats else {}
        return [
            GatewayView(
                g,
                self._telemetry.runtime(g.id),
                {c: s for (c, gid), s in sorted(windows.items()) if gid == g.id},
            )
            for g in gateways
        ]


class SetGatewayStatus:
    """Switch a gateway off or on for routing; persisted, so every replica obeys."""

    def __init__(self, uow: UnitOfWorkFactory, cache: RouteCache | None = None) -> None:
        self._uow = uow
        self._cache = cache

    async def execute(self, gateway_id: str, status: str) -> None:
        if status not in ADMIN_STATUSES:
            raise InvalidInput("status must be 'up' or 'down'")
        async with self._uow() as uow:
            if not await uow.routing.set_admin_status(gateway_id, status):
                raise NotFound(f"gateway {gateway_id} does not exist")
            await uow.audit.record(
                current_actor() or "system",
                "gateway.status_set",
                "gateway",
                gateway_id,
                {"status": status},
            )
            await uow.commit()
        if self._cache is not None:
            self._cache.invalidate()
