"""Gateways and routing priorities (admin key)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, put
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter

from application.country_routing import GetCountryGateways, SetCountryGateways
from application.gateway_admin import ListGateways, SetGatewayStatus
from domain.routing import Priority
from entrypoints.http.auth import admin_guard
from entrypoints.http.gateway_schemas import (
    GatewayOut,
    GatewayStatusBody,
    PriorityItem,
    gateway_out,
)
from entrypoints.http.schemas import problem_responses
from entrypoints.http.strict_json import StrictJsonRequest

GatewayIdPath = Annotated[str, PathParameter(pattern=r"^[a-z0-9_-]{1,32}$")]
CountryPath = Annotated[str, PathParameter(pattern=r"^[A-Z]{2}$")]


class GatewayController(Controller):
    path = "/"
    tags = ["operators"]
    guards = [admin_guard]
    # Priorities and statuses decoded with no coercion: "1" and 1.0 are not 1.
    request_class = StrictJsonRequest

    @get("/gateways", operation_id="listGateways", responses=problem_responses(401, 403))
    async def list_gateways(self, list_gateways: NamedDependency[ListGateways]) -> list[GatewayOut]:
        """Each gateway: operator status, health, breaker, recent success rate and latency.

        Health, breaker and latency are this replica's view.
        """
        return [gateway_out(v) for v in await list_gateways.execute()]

    @put(
        "/gateways/{gateway_id:str}/status",
        operation_id="setGatewayStatus",
        responses=problem_responses(400, 401, 403, 404),
    )
    async def set_status(
        self,
        gateway_id: GatewayIdPath,
        data: JSONBody[GatewayStatusBody],
        set_gateway_status: NamedDependency[SetGatewayStatus],
        list_gateways: NamedDependency[ListGateways],
    ) -> GatewayOut:
        """Switch a gateway `down` (routing skips it) or back `up`; persisted."""
        await set_gateway_status.execute(gateway_id, data.status)
        views = await list_gateways.execute()
        return next(gateway_out(v) for v in views if v.info.id == gateway_id)

    @get(
        "/countries/{country:str}/gateways",
        operation_id="getCountryGateways",
        responses=problem_responses(400, 401, 403, 404),
    )
    async def get_country(
        self, country: CountryPath, get_country_gateways: NamedDependency[GetCountryGateways]
    ) -> list[PriorityItem]:
        """The country's gateways, best (lowest priority number) first."""
        entries = await get_country_gateways.execute(country)
        return [PriorityItem(e.gateway_id, e.priority) for e in entries]

    @put(
        "/countries/{country:str}/gateways",
        operation_id="setCountryGateways",
        responses=problem_responses(400, 401, 403, 404, 422),
    )
    async def set_country(
        self,
        country: CountryPath,
        data: JSONBody[list[PriorityItem]],
        set_country_gateways: NamedDependency[SetCountryGateways],
    ) -> list[PriorityItem]:
        """Replace the country's whole priority list atomically."""
        entries = [Priority(i.gateway_id, i.priority) for i in data]
        saved = await set_country_gateways.execute(country, entries)
        return [PriorityItem(e.gateway_id, e.priority) for e in saved]
