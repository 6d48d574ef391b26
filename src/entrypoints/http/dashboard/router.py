"""The dashboard's router: its pages, static files, headers and error pages."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import quote

from litestar import Request, Response, Router
from litestar.datastructures import CacheControlHeader, ResponseHeader
from litestar.exceptions import HTTPException
from litestar.response import Redirect
from litestar.static_files import create_static_files_router

from domain.errors import NotFound, PaymentError, ServiceUnavailable
from entrypoints.http.dashboard.forms import BadInput
from entrypoints.http.dashboard.guard import BASE, LOGIN, SIGNER_OPT, LoginRequired
from entrypoints.http.dashboard.limits import LimitPages
from entrypoints.http.dashboard.login import THROTTLE_OPT, LoginController, LogoutController
from entrypoints.http.dashboard.login_throttle import LoginThrottle
from entrypoints.http.dashboard.pages import GatewayPages
from entrypoints.http.dashboard.records import RecordPages
from entrypoints.http.dashboard.rendering import error_page
from entrypoints.http.dashboard.routing_draft import RoutingDraftPages
from entrypoints.http.dashboard.sessions import SessionSigner, derive_secret
from entrypoints.http.dashboard.webhooks import WebhookPages
from entrypoints.settings import Settings

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"

# Pages only load our own CSS and JS; nothing may frame them (click-jacking of
# the up/down switches), forms may only post back here.
SECURITY_HEADERS = [
    ResponseHeader(
        name="Content-Security-Policy",
        value=(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
            "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        ),
    ),
    ResponseHeader(name="X-Content-Type-Options", value="nosniff"),
    ResponseHeader(name="Referrer-Policy", value="no-referrer"),
    ResponseHeader(name="X-Frame-Options", value="DENY"),
]


def _to_login(request: Request[Any, Any, Any], _: Exception) -> Response[Any]:
    # Remember the page asked for (GET only: a form post cannot be replayed).
    target = LOGIN
    if request.method == "GET" and request.url.path != BASE:
        target += f"?next={quote(request.url.path)}"
    return Redirect(target, status_code=303)


def _bad_input(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    return error_page(request, 400, str(exc))


def _payment_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    assert isinstance(exc, PaymentError)
    if isinstance(exc, ServiceUnavailable):  # the database, e.g. for the session check
        return error_page(request, 503, exc.detail)
    return error_page(request, 404 if isinstance(exc, NotFound) else 400, exc.detail)


def _http_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    assert isinstance(exc, HTTPException)
    return error_page(request, exc.status_code, str(exc.detail))


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("dashboard error", exc_info=exc)
    return error_page(request, 500, "Something went wrong; the details are in the server log.")


def dashboard_router(settings: Settings) -> Router:
    """The dashboard pages and their static files.

    Session cookies are signed with a key derived from ``settings``, so every
    process of one deployment accepts them (see ``sessions``).
    """
    secret = derive_secret(settings.encryption_keys, settings.admin_api_keys)
    return Router(
        path="/",
        route_handlers=[
            LoginController,
            LogoutController,
            GatewayPages,
            RecordPages,
            LimitPages,
            WebhookPages,
            RoutingDraftPages,
            create_static_files_router(
                path=f"{BASE}/static",
                directories=[STATIC_DIR],
                include_in_schema=False,
                cache_control=CacheControlHeader(max_age=300),
            ),
        ],
        opt={
            SIGNER_OPT: SessionSigner(secret),
            THROTTLE_OPT: LoginThrottle(
                settings.dashboard_login_max_failures, settings.dashboard_login_window_s
            ),
        },
        response_headers=SECURITY_HEADERS,
        include_in_schema=False,
        exception_handlers={
            LoginRequired: _to_login,
            BadInput: _bad_input,
            PaymentError: _payment_error,
            HTTPException: _http_error,
            Exception: _unexpected,
        },
    )
