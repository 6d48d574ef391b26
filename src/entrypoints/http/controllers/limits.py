"""Money rules for operators (admin key): velocity limits and reversal windows."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, get, put
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter

from application.country_limits import GetCountryLimits, LimitInput, SetCountryLimits
from application.ports import CountryLimits
from application.reversal_window import SetReversalWindow
from domain.limits import VelocityLimit
from domain.money import Money
from domain.transaction import TransactionType
from entrypoints.http.auth import admin_guard
from entrypoints.http.dependencies import from_container
from entrypoints.http.schemas import AMOUNT_SCHEMA, problem_responses
from entrypoints.http.strict_json import Amount, StrictJsonRequest

CountryPath = Annotated[str, PathParameter(pattern=r"^[A-Z]{2}$")]
GatewayIdPath = Annotated[str, PathParameter(pattern=r"^[a-z0-9_-]{1,32}$")]
LimitAmount = Annotated[
    Amount,
    msgspec.Meta(
        description="In the country's currency", extra_json_schema={"extra": AMOUNT_SCHEMA}
    ),
]


class OperationLimits(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """One operation's caps; a member absent: unlimited."""

    max_amount: LimitAmount | None = None
    daily_amount: LimitAmount | None = None
    daily_count: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] | None = None


class LimitsBody(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Per operation (an operation absent: unlimited). The day is the last 24 hours."""

    deposit: OperationLimits | None = None
    withdrawal: OperationLimits | None = None


class LimitsOut(msgspec.Struct, omit_defaults=True):
    deposit: dict[str, str | int] | None = None
    withdrawal: dict[str, str | int] | None = None


class GatewaySettingsBody(msgspec.Struct, forbid_unknown_fields=True):
    reversal_window_hours: Annotated[int, msgspec.Meta(ge=0, le=8760)]


class GatewaySettingsOut(msgspec.Struct):
    id: str
    reversal_window_hours: int


class MoneyRulesController(Controller):
    path = "/"
    tags = ["operators"]
    guards = [admin_guard]
    request_class = StrictJsonRequest  # amounts and counts decoded exactly
    dependencies = {
        "get_country_limits": from_container("get_country_limits"),
        "set_country_limits": from_container("set_country_limits"),
        "set_reversal_window": from_container("set_reversal_window"),
    }

    @get(
        "/countries/{country:str}/limits",
        operation_id="getCountryLimits",
        responses=problem_responses(400, 401, 403, 404),
    )
    async def get_limits(
        self, country: CountryPath, get_country_limits: NamedDependency[GetCountryLimits]
    ) -> LimitsOut:
        """The country's velocity limits, in its currency (absent: unlimited)."""
        return limits_out(await get_country_limits.execute(country))

    @put(
        "/countries/{country:str}/limits",
        operation_id="setCountryLimits",
        responses=problem_responses(400, 401, 403, 404, 422),
    )
    async def set_limits(
        self,
        country: CountryPath,
        data: JSONBody[LimitsBody],
        set_country_limits: NamedDependency[SetCountryLimits],
    ) -> LimitsOut:
        """Replace the country's limits: per transaction, per user and rolling day.

        A payment over one is refused with 422 `limit-exceeded` (`limit`,
        `window`, `resets_at`) and nothing is recorded. Audited.
        """
        given = {
            op: LimitInput(body.max_amount, body.daily_amount, body.daily_count)
            for op, body in (
                (TransactionType.DEPOSIT, data.deposit),
                (TransactionType.WITHDRAWAL, data.withdrawal),
            )
            if body is not None
        }
        return limits_out(await set_country_limits.execute(country, given))

    @put(
        "/gateways/{gateway_id:str}",
        operation_id="setGatewaySettings",
        responses=problem_responses(400, 401, 403, 404, 422),
    )
    async def set_gateway(
        self,
        gateway_id: GatewayIdPath,
        data: JSONBody[GatewaySettingsBody],
        set_reversal_window: NamedDependency[SetReversalWindow],
    ) -> GatewaySettingsOut:
        """A gateway's reversal window (hours, default 0): its completed deposits
        are available but not withdrawable until the window has passed. Audited."""
        hours = await set_reversal_window.execute(gateway_id, data.reversal_window_hours)
        return GatewaySettingsOut(gateway_id, hours)


def limits_out(limits: CountryLimits) -> LimitsOut:
    def one(limit: VelocityLimit) -> dict[str, str | int] | None:
        out: dict[str, str | int] = {}
        if limit.max_minor is not None:
            out["max_amount"] = Money.format_minor(limit.max_minor, limits.currency)
        if limit.daily_amount_minor is not None:
            out["daily_amount"] = Money.format_minor(limit.daily_amount_minor, limits.currency)
        if limit.daily_count is not None:
            out["daily_count"] = limit.daily_count
        return out or None

    return LimitsOut(
        one(limits.of(TransactionType.DEPOSIT)), one(limits.of(TransactionType.WITHDRAWAL))
    )
