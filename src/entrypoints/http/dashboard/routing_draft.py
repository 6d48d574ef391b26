"""The routing draft page: edit a country's routing document, replay it on the
last 7 days of recorded traffic, then save it.

Replay and save go through the use cases the admin API uses
(``ReplayRouting``, ``SetCountryRouting``), so a save is validated and
audited the same way; nothing is saved before the operator asks.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from application.country_routing_document import GetCountryRouting, SetCountryRouting
from application.routing_document import config_to
from application.routing_replay import ReplayCommand, ReplayRouting
from domain.errors import PaymentError
from domain.routing_config import RoutingConfig
from entrypoints.http.dashboard import forms
from entrypoints.http.dashboard.forms import BadInput, checked_form, field
from entrypoints.http.dashboard.guard import BASE
from entrypoints.http.dashboard.pages import OperatorPages
from entrypoints.http.dashboard.rendering import page, redirect
from entrypoints.http.dependencies import from_container
from entrypoints.http.routing_schemas import RoutingBody, replay_out

MAX_DRAFT_CHARS = 20_000


def _code(raw: str) -> str:
    code = forms.country(raw)
    if code is None:
        raise BadInput("choose a country")
    return code


def _draft(text: str) -> RoutingConfig:
    """The textarea's JSON as a document; shape errors become a message on the page."""
    if len(text) > MAX_DRAFT_CHARS:
        raise BadInput("the draft is too long")
    try:
        return msgspec.json.decode(text.encode(), type=RoutingBody).to_config()
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise BadInput(f"the draft is not a routing document: {exc}") from exc


class RoutingDraftPages(OperatorPages):
    dependencies = {
        **OperatorPages.dependencies,
        "get_country_routing": from_container("get_country_routing"),
        "set_country_routing": from_container("set_country_routing"),
        "replay_routing": from_container("replay_routing"),
    }

    @get("/routing/{country:str}/draft")
    async def draft(
        self,
        request: Request[Any, Any, Any],
        country: FromPath[str],
        get_country_routing: NamedDependency[GetCountryRouting],
    ) -> Template:
        """The country's current document, as a draft to edit."""
        code = _code(country)
        current = await get_country_routing.execute(code)
        text = json.dumps(config_to(current), indent=2)
        return page(request, "routing_draft.html", code=code, draft=text, replay=None)

    @post("/routing/{country:str}/draft", status_code=200)
    async def act(
        self,
        request: Request[Any, Any, Any],
        country: FromPath[str],
        set_country_routing: NamedDependency[SetCountryRouting],
        replay_routing: NamedDependency[ReplayRouting],
    ) -> Template | Redirect:
        """``replay``: the draft on the last 7 days, nothing saved; ``save``: make it live."""
        form = await checked_form(request)
        code = _code(country)
        text = field(form, "draft")
        try:
            config = _draft(text)
            if field(form, "action") == "save":
                await set_country_routing.execute(code, config)
                back = f"{BASE}/routing/{code}/draft"
                return redirect(request, back, ("ok", f"{code} routing saved ({config.strategy})."))
            report = replay_out(await replay_routing.execute(ReplayCommand({code: config})))
        except BadInput as exc:
            return self._again(request, code, text, str(exc))
        except PaymentError as exc:
            return self._again(request, code, text, exc.detail)
        results = [r for r in report.countries if r.country == code]
        return page(
            request,
            "routing_draft.html",
            code=code,
            draft=text,
            replay=report,
            result=results[0] if results else None,
        )

    def _again(self, request: Request[Any, Any, Any], code: str, text: str, error: str) -> Template:
        return page(
            request,
            "routing_draft.html",
            status_code=400,
            error=error,
            code=code,
            draft=text,
            replay=None,
        )
