"""Wire formats of the gateway operator routes (msgspec Structs, at the edge only)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from application.gateway_admin import GatewayView
from entrypoints.http.routing_schemas import CountryWindowOut, windows_out


class GatewayOut(msgspec.Struct):
    id: str
    name: str
    format: str
    admin_status: str
    health: str
    breaker: str
    success_rate: float | None
    latency_ms_p50: int | None
    latency_ms_p95: int | None
    recent_calls: int
    operations: list[str]
    currencies: list[str]
    routing: list[CountryWindowOut] = []  # success_rate's windows per country


def gateway_out(view: GatewayView) -> GatewayOut:
    info, rt = view.info, view.runtime
    return GatewayOut(
        id=info.id,
        name=info.name,
        format=info.format,
        admin_status=info.admin_status,
        health=rt.health,
        breaker=rt.breaker,
        success_rate=rt.success_rate,
        latency_ms_p50=rt.latency_ms_p50,
        latency_ms_p95=rt.latency_ms_p95,
        recent_calls=rt.recent_calls,
        operations=sorted(info.operations),
        currencies=sorted(info.currencies),
        routing=windows_out(view.routing),
    )


class GatewayStatusBody(msgspec.Struct, forbid_unknown_fields=True):
    status: Literal["up", "down"]


class PriorityItem(msgspec.Struct, forbid_unknown_fields=True):
    gateway_id: Annotated[str, msgspec.Meta(pattern="^[a-z0-9_-]{1,32}$")]
    priority: Annotated[int, msgspec.Meta(ge=1, le=1000)]
