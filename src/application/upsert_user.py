"""Create a user or move them to another country (operators only)."""

from __future__ import annotations

from dataclasses import dataclass

from application.log_context import current_actor
from application.ports import UnitOfWorkFactory
from application.route_cache import RouteCache
from domain.errors import InvalidInput
from domain.user import CountryCode, User


@dataclass(frozen=True, slots=True)
class UpsertUserResult:
    user: User
    created: bool


class UpsertUser:
    def __init__(self, uow: UnitOfWorkFactory, cache: RouteCache | None = None) -> None:
        self._uow = uow
        self._cache = cache

    async def execute(self, user_id: int, country: str) -> UpsertUserResult:
        user = User(id=user_id, country=CountryCode(country))
        async with self._uow() as uow:
            if not await uow.routing.country_exists(user.country.value):
                raise InvalidInput(f"country {country} is not configured")
            previous = await uow.users.get(user_id)
            created = await uow.users.upsert(user)
            await uow.audit.record(
                current_actor() or "system",
                "user.created" if created else "user.moved",
                "user",
                str(user_id),
                {
                    "country": user.country.value,
                    "from": previous.country.value if previous else None,
                },
            )
            await uow.commit()
        if self._cache is not None:
            self._cache.invalidate()
        return UpsertUserResult(user, created)
