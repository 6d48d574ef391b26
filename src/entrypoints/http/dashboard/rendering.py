"""How a dashboard response is made: a page with the layout's context, or a redirect.

One-shot messages ("flashes") cross a post/redirect/get in a signed cookie and
are shown once, by the next page rendered.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Request
from litestar.datastructures import CacheControlHeader
from litestar.response import Redirect, Template

from entrypoints.http.dashboard.guard import COOKIE, cookie, signer
from entrypoints.http.dashboard.sessions import OperatorSession

TEMPLATES_DIR = Path(__file__).parent / "templates"
FLASH_COOKIE = "payments_dashboard_flash"  # one-shot messages across a redirect
# Pages show balances and transactions: never keep them in a shared or disk cache.
NO_STORE = CacheControlHeader(no_store=True)


def page(
    request: Request[Any, Any, Any],
    template: str,
    *,
    status_code: int = 200,
    error: str | None = None,
    **context: Any,
) -> Template:
    """A page with the layout's context: nav, operator, CSRF token, messages."""
    session: OperatorSession | None = request.state.get("operator")
    cookies = []
    flashes: list[tuple[str, str]] = []
    # A background refresh (dashboard.js) must not eat the one-shot messages
    # meant for the page the operator is looking at.
    refresh = request.headers.get("x-dashboard-refresh") == "1"
    if not refresh and FLASH_COOKIE in request.cookies:
        flashes = signer(request).open_messages(request.cookies[FLASH_COOKIE])
        cookies.append(cookie(request, FLASH_COOKIE, "", max_age=0))  # shown once
    if session is not None and (renewed := signer(request).refreshed(session)):
        cookies.append(cookie(request, COOKIE, renewed))  # sliding idle expiry
    return Template(
        template_name=template,
        status_code=status_code,
        cookies=cookies,
        context={
            "path": request.url.path,
            "actor": session.actor if session else None,
            "csrf_token": session.csrf_token if session else "",
            "flashes": flashes,
            "error": error,
            **context,
        },
    )


def error_page(request: Request[Any, Any, Any], status_code: int, message: str) -> Template:
    return page(request, "error.html", status_code=status_code, error=message, status=status_code)


def redirect(request: Request[Any, Any, Any], target: str, *messages: tuple[str, str]) -> Redirect:
    """Post/redirect/get, carrying messages for the next page in a signed cookie."""
    cookies = []
    if messages:
        sealed = signer(request).seal_messages(list(messages))
        cookies.append(cookie(request, FLASH_COOKIE, sealed, max_age=120))
    return Redirect(target, status_code=303, cookies=cookies)
