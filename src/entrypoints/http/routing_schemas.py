"""Wire shapes of the routing document and the replay (CONTRACT.md, routing strategies)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Literal

import msgspec

from application.routing_document import config_from, config_to
from application.routing_replay import ReplayReport, ReplayResult
from domain.routing_config import RoutingConfig
from domain.routing_stats import GatewayStats

GatewayIdText = Annotated[str, msgspec.Meta(pattern="^[a-z0-9_-]{1,32}$")]
AmountText = Annotated[str, msgspec.Meta(pattern=r"^\d{1,15}(\.\d{1,4})?$", examples=["1000.00"])]
CountryCode = Annotated[str, msgspec.Meta(pattern="^[A-Z]{2}$")]


class TierEntryBody(msgspec.Struct, forbid_unknown_fields=True):
    gateway_id: GatewayIdText
    # Checked by the domain, so a weight that is not positive is a 422 naming it.
    weight: int = 100


class ConditionBody(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    type: Literal["deposit", "withdrawal"] | None = None
    currency: Annotated[str, msgspec.Meta(pattern="^[A-Z]{3}$")] | None = None
    min_amount: AmountText | None = None
    max_amount: AmountText | None = None


class RuleBody(msgspec.Struct, forbid_unknown_fields=True):
    when: ConditionBody
    tiers: list[list[TierEntryBody]]


class RoutingBody(msgspec.Struct, forbid_unknown_fields=True):
    """A country's routing: strategy, tiers tried in order, rules that replace the tiers."""

    strategy: Literal["priority", "weighted", "success_rate"]
    tiers: list[list[TierEntryBody]]
    rules: list[RuleBody] = []
    closed_loop: bool = False

    def to_config(self) -> RoutingConfig:
        return config_from(msgspec.to_builtins(self))


def routing_body(config: RoutingConfig) -> RoutingBody:
    return msgspec.convert(config_to(config), RoutingBody)


class ReplayBody(msgspec.Struct, forbid_unknown_fields=True):
    """Drafts per country; the period defaults to the last 7 days."""

    draft: dict[CountryCode, RoutingBody]
    since: datetime | None = None
    until: datetime | None = None
    confidence: Annotated[float, msgspec.Meta(gt=0, lt=1)] = 0.95


class GatewayShareOut(msgspec.Struct):
    gateway_id: str
    now: int
    draft: int
    share_now: float
    share_draft: float


class EstimateOut(msgspec.Struct):
    estimate: float | None
    low: float | None
    high: float | None
    prediction_low: float | None = None
    prediction_high: float | None = None


class ReplayResultOut(msgspec.Struct):
    country: str | None
    transactions: int
    changed: int
    gateways: list[GatewayShareOut]
    success_rate_now: float | None
    success_rate: EstimateOut
    latency_ms: EstimateOut


class ReplayOut(msgspec.Struct):
    since: datetime
    until: datetime
    method: str
    confidence: float
    countries: list[ReplayResultOut]
    total: ReplayResultOut


def _result_out(r: ReplayResult) -> ReplayResultOut:
    n = r.transactions or 1
    return ReplayResultOut(
        country=r.country,
        transactions=r.transactions,
        changed=r.changed,
        gateways=[
            GatewayShareOut(g.gateway_id, g.now, g.draft, g.now / n, g.draft / n)
            for g in r.gateways
        ],
        success_rate_now=r.success_rate_now,
        success_rate=msgspec.convert(r.success_rate, EstimateOut),
        latency_ms=msgspec.convert(r.latency_ms, EstimateOut),
    )


def replay_out(report: ReplayReport) -> ReplayOut:
    return ReplayOut(
        report.since,
        report.until,
        report.method,
        report.confidence,
        [_result_out(r) for r in report.countries],
        _result_out(report.total),
    )


class CountryWindowOut(msgspec.Struct):
    """success_rate's window for one gateway in one country."""

    country: str
    attempts: int
    success_rate: float | None
    latency_ms_p50: float | None


def windows_out(windows: Mapping[str, GatewayStats]) -> list[CountryWindowOut]:
    return [CountryWindowOut(c, s.attempts, s.rate, s.latency_ms_p50) for c, s in windows.items()]
