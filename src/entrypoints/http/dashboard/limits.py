"""The operator's money-rules page: each country's velocity limits (read-only)."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.response import Template

from application.country_limits import GetCountryLimits
from domain.errors import NotFound
from entrypoints.http.controllers.limits import limits_out
from entrypoints.http.dashboard.pages import SUGGESTED_COUNTRIES, OperatorPages
from entrypoints.http.dashboard.rendering import page
from entrypoints.http.dependencies import from_container


class LimitPages(OperatorPages):
    """Read-only: limits change through the admin API (audited), see README "Money rules"."""

    dependencies = {
        **OperatorPages.dependencies,
        "get_country_limits": from_container("get_country_limits"),
    }

    @get("/limits")
    async def limits(
        self, request: Request[Any, Any, Any], get_country_limits: NamedDependency[GetCountryLimits]
    ) -> Template:
        """Per demo country and operation: the caps a payment must pass (absent: unlimited)."""
        rows = []
        for code in SUGGESTED_COUNTRIES:
            try:
                found = await get_country_limits.execute(code)
            except NotFound:
                continue
            out = limits_out(found)
            rows.append((code, found.currency, out.deposit or {}, out.withdrawal or {}))
        return page(request, "limits.html", countries=rows)
