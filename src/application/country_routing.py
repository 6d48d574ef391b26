"""Read and replace a country's gateway priority list (admin key)."""

from __future__ import annotations

from application.log_context import current_actor
from application.ports import UnitOfWorkFactory
from application.route_cache import RouteCache
from domain.errors import NotFound
from domain.routing import Priority, validate_priorities


class GetCountryGateways:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, country: str) -> list[Priority]:
        async with self._uow() as uow:
            if not await uow.routing.country_exists(country):
                raise NotFound(f"country {country} is not configured")
            return await uow.routing.country_priorities(country)


class SetCountryGateways:
    """Replace the whole list in one database transaction; routing sees old or new."""

    def __init__(self, uow: UnitOfWorkFactory, cache: RouteCache | None = None) -> None:
        self._uow = uow
        self._cache = cache

    async def execute(self, country: str, entries: list[Priority]) -> list[Priority]:
        async with self._uow() as uow:
            if not await uow.routing.country_exists(country):
                raise NotFound(f"country {country} is not configured")
            known = {g.id for g in await uow.routing.list_gateways()}
            ordered = validate_priorities(entries, known)
            before = await uow.routing.country_priorities(country)
            await uow.routing.replace_country_priorities(country, ordered)
            # A priority list is the `priority` strategy: any richer document goes.
            await uow.routing.forget_routing_document(country)
            await uow.audit.record(
                current_actor() or "system",
                "country.priorities_set",
                "country",
                country,
                {
                    "before": [[p.gateway_id, p.priority] for p in before],
                    "after": [[p.gateway_id, p.priority] for p in ordered],
                },
            )
            await uow.commit()
        if self._cache is not None:
            self._cache.invalidate()
        return ordered
