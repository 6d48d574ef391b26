"""Read and replace a country's routing document (admin key)."""

from __future__ import annotations

from application.log_context import current_actor
from application.ports import UnitOfWorkFactory
from application.route_cache import RouteCache
from application.routing_document import config_to
from domain.errors import NotFound
from domain.routing_config import RoutingConfig, validate_config


class GetCountryRouting:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, country: str) -> RoutingConfig:
        async with self._uow() as uow:
            config = await uow.routing.routing_document(country)
        if config is None:
            raise NotFound(f"country {country} is not configured")
        return config


class SetCountryRouting:
    """Validate, then replace the document and its priority list in one transaction.

    Every process drops its route cache when the commit is announced
    (NOTIFY, adapters/postgres/routing_changes.py); this one at once.
    """

    def __init__(self, uow: UnitOfWorkFactory, cache: RouteCache | None = None) -> None:
        self._uow = uow
        self._cache = cache

    async def execute(self, country: str, config: RoutingConfig) -> RoutingConfig:
        async with self._uow() as uow:
            before = await uow.routing.routing_document(country)
            if before is None:
                raise NotFound(f"country {country} is not configured")
            known = {g.id for g in await uow.routing.list_gateways()}
            validate_config(config, known)
            await uow.routing.save_routing_document(country, config)
            await uow.audit.record(
                current_actor() or "system",
                "country.routing_set",
                "country",
                country,
                {"before": config_to(before), "after": config_to(config)},
            )
            await uow.commit()
        if self._cache is not None:
            self._cache.invalidate()
        return config
