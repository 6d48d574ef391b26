"""Replay recorded traffic through draft routing documents (admin key, CLI).

Nothing is sent anywhere: each recorded deposit or withdrawal is routed
again by ``plan_route`` (the live path's function, the same sticky draws)
and the outcomes are estimated as domain/routing_replay.py says.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from application.ports import Clock, UnitOfWorkFactory
from application.ports.replay import RecordedTraffic
from domain.errors import InvalidInput, NotFound
from domain.money import Money
from domain.routing import GatewayRoute
from domain.routing_config import RoutingConfig, validate_config
from domain.routing_plan import plan_route
from domain.routing_replay import METHOD, GatewaySample, Projection, Tally, project
from domain.routing_stats import GatewayStats, SuccessRatePolicy
from domain.transaction import TransactionType

DEFAULT_PERIOD = timedelta(days=7)
Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class ReplayCommand:
    drafts: dict[str, RoutingConfig]  # country → draft document
    since: datetime | None = None
    until: datetime | None = None
    confidence: float = 0.95  # of the intervals


@dataclass(frozen=True, slots=True)
class GatewayShare:
    gateway_id: str
    now: int
    draft: int


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """One country's replay, or the total (country None)."""

    country: str | None
    transactions: int
    changed: int
    gateways: list[GatewayShare]
    success_rate_now: float | None
    success_rate: dict[str, float | None]
    latency_ms: dict[str, float | None]


@dataclass(frozen=True, slots=True)
class ReplayReport:
    since: datetime
    until: datetime
    method: str
    confidence: float
    countries: list[ReplayResult]
    total: ReplayResult


class ReplayRouting:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        traffic: RecordedTraffic,
        clock: Clock,
        policy: SuccessRatePolicy | None = None,
    ) -> None:
        self._uow = uow
        self._traffic = traffic
        self._clock = clock
        self._policy = policy or SuccessRatePolicy()

    async def execute(
        self, command: ReplayCommand, on_progress: Progress | None = None
    ) -> ReplayReport:
        until = command.until or self._clock.now()
        since = command.since or until - DEFAULT_PERIOD
        if since >= until:
            raise InvalidInput("since must be before until")
        if not 0 < command.confidence < 1:
            raise InvalidInput("confidence must be between 0 and 1")
        level = command.confidence
        routes = await self._check(command.drafts)
        payments = await self._traffic.payments(since, until)
        samples = await self._traffic.samples(since, until)
        tallies: dict[str, Tally] = {}
        for done, p in enumerate(payments, start=1):
            draft = command.drafts.get(p.country)
            now = p.first_gateway
            chosen = now
            if draft is not None:
                stats = _stats(samples, p.country)
                money = Money.of_minor(p.amount_minor, p.currency)
                planned = plan_route(
                    draft, routes, p.transaction_id, p.type, money, stats, self._policy
                )
                chosen = planned[0].gateway_id if planned else "none"
            tallies.setdefault(p.country, Tally()).add(now, chosen, p.succeeded, p.latency_ms)
            if on_progress is not None and (done % 200 == 0 or done == len(payments)):
                on_progress(done, len(payments))
        results = []
        total_tally, total = Tally(), Projection()
        for country in sorted(tallies):
            tally = tallies[country]
            country_samples = {g: s for (c, g), s in samples.items() if c == country}
            projection = project(tally, country_samples)
            results.append(_result(country, tally, projection, level))
            total = total.plus(projection)
            _merge(total_tally, tally)
        total_result = _result(None, total_tally, total, level)
        return ReplayReport(since, until, METHOD, level, results, total_result)

    async def _check(self, drafts: dict[str, RoutingConfig]) -> list[GatewayRoute]:
        """Validate every draft as a PUT would; answer every known gateway as a route."""
        async with self._uow() as uow:
            gateways = await uow.routing.list_gateways()
            for country, draft in drafts.items():
                if await uow.routing.routing_document(country) is None:
                    raise NotFound(f"country {country} is not configured")
                try:
                    validate_config(draft, {g.id for g in gateways})
                except InvalidInput as exc:
                    raise InvalidInput(f"draft {country}: {exc}") from exc
        return [
            GatewayRoute(
                g.id,
                n,
                frozenset(TransactionType(o) for o in g.operations),
                g.currencies,
                g.admin_status == "up",
            )
            for n, g in enumerate(gateways, start=1)
        ]


def _stats(samples: dict[tuple[str, str], GatewaySample], country: str) -> dict[str, GatewayStats]:
    # A success_rate draft is judged on the period's recorded windows (a static view).
    return {
        g: GatewayStats(s.attempts, s.successes, s.latency_mean)
        for (c, g), s in samples.items()
        if c == country
    }


def _merge(into: Tally, tally: Tally) -> None:
    into.transactions += tally.transactions
    into.changed += tally.changed
    into.now.update(tally.now)
    into.draft.update(tally.draft)
    into.recorded_successes += tally.recorded_successes


def _result(
    country: str | None, tally: Tally, projection: Projection, confidence: float
) -> ReplayResult:
    ids = sorted(set(tally.now) | set(tally.draft))
    return ReplayResult(
        country,
        tally.transactions,
        tally.changed,
        [GatewayShare(g, tally.now[g], tally.draft[g]) for g in ids],
        tally.recorded_successes / tally.transactions if tally.transactions else None,
        projection.success_rate(confidence),
        projection.latency_ms(confidence),
    )
