"""Who may see a dashboard page: the session cookie, checked on every request.

Signing and expiry live in ``sessions``; this module reads the cookie, asks the
shared revocations whether it was logged out, and binds the operator as the
actor of whatever the request does.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.handlers.base import BaseRouteHandler

from application.log_context import set_actor
from application.ports import SessionRevocations
from entrypoints.http.dashboard.sessions import OperatorSession, SessionSigner
from entrypoints.http.dependencies import resolve

BASE = "/dashboard"
LOGIN = f"{BASE}/login"
COOKIE = "payments_dashboard"
SIGNER_OPT = "dashboard_sessions"  # where the router hands the signer to guards and handlers


class LoginRequired(Exception):
    """No live session: the browser goes to the login page."""


def signer(connection: ASGIConnection[Any, Any, Any, Any]) -> SessionSigner:
    session_signer: SessionSigner = connection.route_handler.opt[SIGNER_OPT]
    return session_signer


async def revocations(connection: ASGIConnection[Any, Any, Any, Any]) -> SessionRevocations:
    """The logged-out sessions every process shares (PostgreSQL, from the container)."""
    store: SessionRevocations = await resolve(connection.app.state["container"].session_revocations)
    return store


async def open_session(connection: ASGIConnection[Any, Any, Any, Any]) -> OperatorSession | None:
    """The request's session: signed, not expired, and not logged out in any process."""
    session = signer(connection).open(connection.cookies.get(COOKIE))
    if session is None or await (await revocations(connection)).is_revoked(session.nonce):
        return None
    return session


async def operator_guard(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """Only requests carrying a live operator session pass.

    Async like the API's guards: the actor bound here must reach the handler,
    which a sync guard run in a worker thread would not guarantee.
    """
    session = await open_session(connection)
    if session is None:
        raise LoginRequired
    connection.state.operator = session
    set_actor(session.actor)


def current_operator(request: Request[Any, Any, Any]) -> OperatorSession:
    session: OperatorSession = request.state.operator
    return session


def cookie(
    request: Request[Any, Any, Any], key: str, value: str, max_age: int | None = None
) -> Cookie:
    """Our cookies: script-proof, never sent cross-site, Secure whenever served over https."""
    return Cookie(
        key=key,
        value=value,
        path=BASE,
        max_age=max_age,
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="strict",
    )
