"""Countries' routing documents and replays of drafts (admin key)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post, put
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter

from application.country_routing_document import GetCountryRouting, SetCountryRouting
from application.routing_replay import ReplayCommand, ReplayRouting
from entrypoints.http.auth import admin_guard
from entrypoints.http.dependencies import from_container
from entrypoints.http.routing_schemas import (
    ReplayBody,
    ReplayOut,
    RoutingBody,
    replay_out,
    routing_body,
)
from entrypoints.http.schemas import problem_responses
from entrypoints.http.strict_json import StrictJsonRequest

CountryPath = Annotated[str, PathParameter(pattern=r"^[A-Z]{2}$")]


class RoutingController(Controller):
    path = "/"
    tags = ["operators"]
    guards = [admin_guard]
    request_class = StrictJsonRequest
    dependencies = {
        "get_country_routing": from_container("get_country_routing"),
        "set_country_routing": from_container("set_country_routing"),
        "replay_routing": from_container("replay_routing"),
    }

    @get(
        "/countries/{country:str}/routing",
        operation_id="getCountryRouting",
        responses=problem_responses(400, 401, 403, 404),
    )
    async def get_routing(
        self, country: CountryPath, get_country_routing: NamedDependency[GetCountryRouting]
    ) -> RoutingBody:
        """The country's routing document (a plain priority list reads as `priority`)."""
        return routing_body(await get_country_routing.execute(country))

    @put(
        "/countries/{country:str}/routing",
        operation_id="setCountryRouting",
        responses=problem_responses(400, 401, 403, 404, 422),
    )
    async def set_routing(
        self,
        country: CountryPath,
        data: JSONBody[RoutingBody],
        set_country_routing: NamedDependency[SetCountryRouting],
    ) -> RoutingBody:
        """Replace the document: unknown gateways, weights not positive or rules that can
        never match are 422 and change nothing; every replica drops its route cache."""
        return routing_body(await set_country_routing.execute(country, data.to_config()))

    @post(
        "/routing/replay",
        operation_id="replayRouting",
        status_code=200,
        responses=problem_responses(400, 401, 403, 404, 422),
    )
    async def replay(
        self, data: JSONBody[ReplayBody], replay_routing: NamedDependency[ReplayRouting]
    ) -> ReplayOut:
        """Run the period's recorded traffic through draft documents: shares per gateway
        now vs draft, transactions that change gateway, expected success rate and latency."""
        command = ReplayCommand(
            {c: body.to_config() for c, body in data.draft.items()},
            data.since,
            data.until,
            data.confidence,
        )
        return replay_out(await replay_routing.execute(command))
