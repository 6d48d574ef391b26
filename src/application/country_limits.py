"""Read and replace a country's velocity limits (admin key); see domain/limits.py."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from application.log_context import current_actor
from application.ports import CountryLimits, UnitOfWorkFactory
from application.route_cache import RouteCache
from domain.errors import NotFound
from domain.limits import VelocityLimit
from domain.money import Money
from domain.transaction import TransactionType


@dataclass(frozen=True, slots=True)
class LimitInput:
    """One operation's caps as given: amounts in the country's currency; None: unlimited."""

    max_amount: Decimal | str | None = None
    daily_amount: Decimal | str | None = None
    daily_count: int | None = None


class GetCountryLimits:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, country: str) -> CountryLimits:
        async with self._uow() as uow:
            limits = await uow.limits.country_limits(country)
        if limits is None:
            raise NotFound(f"country {country} is not configured")
        return limits


class SetCountryLimits:
    """Replace every limit of the country at once (audited); payments see old or new."""

    def __init__(self, uow: UnitOfWorkFactory, cache: RouteCache | None = None) -> None:
        self._uow = uow
        self._cache = cache

    async def execute(
        self, country: str, given: dict[TransactionType, LimitInput]
    ) -> CountryLimits:
        async with self._uow() as uow:
            before = await uow.limits.country_limits(country)
            if before is None:
                raise NotFound(f"country {country} is not configured")
            currency = before.currency
            after = CountryLimits(
                currency, {op: _limit(i, currency) for op, i in sorted(given.items())}
            )
            await uow.limits.replace_country_limits(country, after)
            await uow.audit.record(
                current_actor() or "system",
                "country.limits_set",
                "country",
                country,
                {"before": _audited(before), "after": _audited(after)},
            )
            await uow.commit()
        if self._cache is not None:
            self._cache.invalidate()
        return after


def _limit(given: LimitInput, currency: str) -> VelocityLimit:
    def minor(amount: Decimal | str | None) -> int | None:
        return None if amount is None else Money.parse(amount, currency).minor

    return VelocityLimit(minor(given.max_amount), minor(given.daily_amount), given.daily_count)


def _audited(limits: CountryLimits) -> dict[str, list[int | None]]:
    return {
        op.value: [lim.max_minor, lim.daily_amount_minor, lim.daily_count]
        for op, lim in sorted(limits.per_operation.items())
    }
