"""Logging in and out: an admin API key in, a signed session cookie out."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.response import Redirect, Template

from application.log_context import set_actor
from entrypoints.http.auth import ApiKeys, Role
from entrypoints.http.dashboard.forms import back_to, checked_form, field
from entrypoints.http.dashboard.guard import (
    BASE,
    COOKIE,
    LOGIN,
    cookie,
    open_session,
    revocations,
    signer,
)
from entrypoints.http.dashboard.login_throttle import LoginThrottle
from entrypoints.http.dashboard.pages import OperatorPages
from entrypoints.http.dashboard.rendering import NO_STORE, page
from entrypoints.http.dashboard.sessions import OperatorSession

log = logging.getLogger(__name__)

THROTTLE_OPT = "dashboard_login_throttle"  # where the router hands the throttle to the handler


class LoginController(Controller):
    """The only dashboard pages open without a session."""

    path = BASE
    include_in_schema = False
    cache_control = NO_STORE

    @get("/login")
    async def login_page(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        if await open_session(request) is not None:
            return Redirect(BASE, status_code=303)
        return page(request, "login.html", next=back_to(request.query_params.get("next", ""), ""))

    @post("/login")
    async def login(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        """Exchange the admin API key for a session cookie.

        No CSRF token here: there is no session yet, and forging a login would
        need an admin key — with which the attacker could act directly anyway.
        Refused keys are counted per client address (see ``login_throttle``).
        """
        form = await request.form()
        key = field(form, "api_key").strip()
        target = back_to(field(form, "next"), BASE)
        # Nothing is awaited from here on: concurrent guesses from one address
        # are counted one by one, none slips past the check.
        address = request.client.host if request.client else "unknown"
        throttle: LoginThrottle = request.route_handler.opt[THROTTLE_OPT]
        if (wait := throttle.retry_after(address)) is not None:
            error = f"Too many failed logins from your address; try again in {wait} seconds."
            refused = page(request, "login.html", status_code=429, error=error, next=target)
            refused.headers["Retry-After"] = str(wait)
            return refused
        keys: ApiKeys = request.app.state["api_keys"]
        role = keys.role_of(key) if key else None
        if role is not Role.ADMIN:
            message = (
                "This is a client key; the dashboard needs an admin API key."
                if role is Role.CLIENT
                else "Unknown API key."
            )
            throttle.failed(address)
            extra = {"client_address": address}
            log.warning("dashboard login refused from %s", address, extra=extra)
            if (wait := throttle.retry_after(address)) is not None:
                log.warning(
                    "dashboard logins from %s throttled for %d s", address, wait, extra=extra
                )
            return page(request, "login.html", status_code=401, error=message, next=target)
        throttle.succeeded(address)
        # The same actor label the JSON API's auth binds (role and a short key
        # digest), so dashboard and API actions read alike in the audit trail.
        actor = f"{role.value}:{hashlib.sha256(key.encode()).hexdigest()[:10]}"
        set_actor(actor)
        issued, _session = signer(request).issue(actor)  # a fresh nonce: no fixation
        log.info("dashboard login")
        return Redirect(target, status_code=303, cookies=[cookie(request, COOKIE, issued)])


class LogoutController(OperatorPages):
    """Ending the session, for every process at once."""

    @post("/logout", status_code=303)
    async def logout(
        self, request: Request[Any, Any, Any], operator: NamedDependency[OperatorSession]
    ) -> Redirect:
        await checked_form(request)
        # Shared and durable: a copy of the cookie is refused by every replica, after restarts too.
        await (await revocations(request)).revoke(
            operator.nonce, signer(request).expires_at(operator)
        )
        log.info("dashboard logout")
        return Redirect(LOGIN, status_code=303, cookies=[cookie(request, COOKIE, "", max_age=0)])
