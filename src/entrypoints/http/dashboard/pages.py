"""The operator's pages for gateways and routing, and what every operator page shares.

Every write goes through the use case the JSON API uses (``SetGatewayStatus``,
``SetCountryGateways``) with the operator's actor bound, so dashboard actions
land in the same audit trail as API calls.
"""

from __future__ import annotations

import logging
from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from application.country_route_order import GetCountryRouteOrder
from application.country_routing import GetCountryGateways, SetCountryGateways
from application.gateway_admin import ListGateways, SetGatewayStatus
from application.list_issues import ListIssues
from domain.errors import NotFound, PaymentError
from entrypoints.http.dashboard import forms
from entrypoints.http.dashboard.forms import BadInput, checked_form, field
from entrypoints.http.dashboard.guard import BASE, current_operator, operator_guard
from entrypoints.http.dashboard.rendering import NO_STORE, page, redirect
from entrypoints.http.dashboard.views import country_routing, describe
from entrypoints.http.dependencies import from_container
from entrypoints.http.gateway_schemas import gateway_out

log = logging.getLogger(__name__)

# The demo countries, shown on the routing page when configured: no use case
# lists countries yet, so others are added by typing their code.
SUGGESTED_COUNTRIES = ("US", "GB", "DE", "JP")
ROUTE_ORDER = from_container("get_country_route_order")  # only the routing page asks for it


class OperatorPages(Controller):
    """Pages that need an operator session; without one the guard sends to login.

    A base without handlers (a subclass would serve them twice): one subclass
    per group of pages.
    """

    path = BASE
    include_in_schema = False
    guards = [operator_guard]
    cache_control = NO_STORE
    dependencies = {"operator": Provide(current_operator, sync_to_thread=False)}


class GatewayPages(OperatorPages):
    """Gateways with their switches, and each country's priority list."""

    @get("/")
    async def gateways(
        self,
        request: Request[Any, Any, Any],
        list_gateways: NamedDependency[ListGateways],
        list_issues: NamedDependency[ListIssues],
    ) -> Template:
        """Gateway health, breaker, success rate and latency; switches up/down."""
        gateways = [gateway_out(v) for v in await list_gateways.execute()]
        open_issues = await list_issues.execute(open_only=True, limit=500)
        return page(request, "gateways.html", gateways=gateways, open_issues=len(open_issues))

    @post("/gateways/{gateway_id:str}/status", status_code=303)
    async def set_gateway_status(
        self,
        request: Request[Any, Any, Any],
        gateway_id: FromPath[str],
        set_gateway_status: NamedDependency[SetGatewayStatus],
    ) -> Redirect:
        """Switch a gateway down (routing skips it) or up, as PUT /gateways/{id}/status."""
        form = await checked_form(request)
        back = forms.back_to(field(form, "back"), BASE)
        try:
            status = forms.gateway_switch(gateway_id, field(form, "status"))
            await set_gateway_status.execute(gateway_id, status)
        except BadInput as exc:
            return redirect(request, back, ("error", str(exc)))
        except PaymentError as exc:
            return redirect(request, back, ("error", exc.detail))
        log.info("gateway %s switched %s from the dashboard", gateway_id, status)
        effect = "routing skips it" if status == "down" else "routing uses it again"
        return redirect(request, back, ("ok", f"Gateway {gateway_id} is {status}: {effect}."))

    @get("/routing", dependencies={"get_country_route_order": ROUTE_ORDER})
    async def routing(
        self,
        request: Request[Any, Any, Any],
        list_gateways: NamedDependency[ListGateways],
        get_country_route_order: NamedDependency[GetCountryRouteOrder],
        country: FromQuery[str | None] = None,
    ) -> Template:
        """Each country's priority list, editable, with the order routing uses now.

        Shows the demo countries that are configured, plus ``?country=XX``.
        """
        error = None
        try:
            added = forms.country(country)
        except BadInput as exc:
            added, error = None, str(exc)
        gateways = {g.id: g for g in map(gateway_out, await list_gateways.execute())}
        countries = []
        for code in dict.fromkeys([*SUGGESTED_COUNTRIES, added]):
            if code is None:
                continue
            try:
                order = await get_country_route_order.execute(code)
            except NotFound:
                if code == added:
                    error = f"Country {code} is not configured."
                continue
            countries.append(country_routing(order, gateways))
        return page(
            request,
            "routing.html",
            status_code=400 if error else 200,
            error=error,
            countries=countries,
        )

    @post("/routing/{country:str}", status_code=303)
    async def set_routing(
        self,
        request: Request[Any, Any, Any],
        country: FromPath[str],
        get_country_gateways: NamedDependency[GetCountryGateways],
        set_country_gateways: NamedDependency[SetCountryGateways],
    ) -> Redirect:
        """Save typed priorities, or move one gateway up/down; the whole list is replaced."""
        form = await checked_form(request)
        back = f"{BASE}/routing"
        try:
            code = forms.country(country)
            if code is None:
                raise BadInput("choose a country")
            shown = "" if code in SUGGESTED_COUNTRIES else f"?country={code}"
            back = f"{BASE}/routing{shown}#country-{code}"
            current = await get_country_gateways.execute(code)
            saved = await set_country_gateways.execute(code, forms.routing_change(form, current))
        except BadInput as exc:
            return redirect(request, back, ("error", str(exc)))
        except PaymentError as exc:
            return redirect(request, back, ("error", exc.detail))
        log.info("country %s priorities set from the dashboard", code)
        return redirect(request, back, ("ok", f"{code} priorities saved: {describe(saved)}."))
