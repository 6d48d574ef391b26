"""Operator dashboard: server-rendered pages over the same use cases as the JSON API.

Every write goes through the use case the JSON API uses (``SetGatewayStatus``,
``SetCountryGateways``) with the operator's actor bound, so dashboard actions
land in the same audit trail as API calls. Pages read query strings as plain
text and validate them here: a bad value must become a readable message on
the page, not Litestar's JSON 400 or a 500.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from litestar import Controller, Request, Response, Router, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import CacheControlHeader, Cookie, ResponseHeader
from litestar.di import NamedDependency, Provide
from litestar.exceptions import HTTPException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from litestar.static_files import create_static_files_router

from application.country_routing import GetCountryGateways, SetCountryGateways
from application.gateway_admin import ListGateways, SetGatewayStatus
from application.get_balances import GetBalances
from application.get_transaction import GetTransaction
from application.list_issues import ListIssues
from application.list_transactions import ListTransactions, ListTransactionsQuery
from application.log_context import set_actor
from application.ports import SessionRevocations
from domain.errors import NotFound, PaymentError, ServiceUnavailable
from domain.routing import Priority
from domain.transaction import TransactionStatus
from entrypoints.http.auth import ApiKeys, Role
from entrypoints.http.dashboard.login_throttle import LoginThrottle
from entrypoints.http.dashboard.sessions import OperatorSession, SessionSigner, derive_secret
from entrypoints.http.dependencies import resolve
from entrypoints.http.schemas import (
    GatewayOut,
    balance_out,
    gateway_out,
    transaction_detail_out,
    transaction_out,
)
from entrypoints.settings import Settings

log = logging.getLogger(__name__)

BASE = "/dashboard"
LOGIN = f"{BASE}/login"
COOKIE = "payments_dashboard"
FLASH_COOKIE = "payments_dashboard_flash"  # one-shot messages across a redirect
SIGNER_OPT = "dashboard_sessions"  # where the router hands the signer to guards and handlers
THROTTLE_OPT = "dashboard_login_throttle"
HERE = Path(__file__).parent
TEMPLATES_DIR = HERE / "templates"
STATIC_DIR = HERE / "static"

# The demo countries, shown on the routing page when configured: no use case
# lists countries yet, so others are added by typing their code.
SUGGESTED_COUNTRIES = ("US", "GB", "DE", "JP")
PAGE_SIZE = 50
MAX_USER_ID = 2**63 - 1
MAX_PRIORITY = 1000
COUNTRY_RE = re.compile(r"^[A-Z]{2}$")
BACK_TO_RE = re.compile(r"/dashboard(/[A-Za-z0-9/_.~%=&?#-]*)?")
GATEWAY_RE = re.compile(r"^[a-z0-9_-]{1,32}$")
STATUSES = tuple(s.value for s in TransactionStatus)

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
# Pages show balances and transactions: never keep them in a shared or disk cache.
NO_STORE = CacheControlHeader(no_store=True)


class LoginRequired(Exception):
    """No live session: the browser goes to the login page."""


class BadInput(Exception):
    """A query or form value the page cannot use; shown on the page, status 400."""


# --- sessions ---------------------------------------------------------------


def _signer(connection: ASGIConnection[Any, Any, Any, Any]) -> SessionSigner:
    signer: SessionSigner = connection.route_handler.opt[SIGNER_OPT]
    return signer


async def _revocations(connection: ASGIConnection[Any, Any, Any, Any]) -> SessionRevocations:
    """The logged-out sessions every process shares (PostgreSQL, from the container)."""
    store: SessionRevocations = await resolve(connection.app.state["container"].session_revocations)
    return store


async def open_session(connection: ASGIConnection[Any, Any, Any, Any]) -> OperatorSession | None:
    """The request's session: signed, not expired, and not logged out in any process."""
    session = _signer(connection).open(connection.cookies.get(COOKIE))
    if session is None or await (await _revocations(connection)).is_revoked(session.nonce):
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


def _current_operator(request: Request[Any, Any, Any]) -> OperatorSession:
    session: OperatorSession = request.state.operator
    return session


def _cookie(
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


def _redirect(request: Request[Any, Any, Any], target: str, *messages: tuple[str, str]) -> Redirect:
    """Post/redirect/get, carrying messages for the next page in a signed cookie."""
    cookies = []
    if messages:
        sealed = _signer(request).seal_messages(list(messages))
        cookies.append(_cookie(request, FLASH_COOKIE, sealed, max_age=120))
    return Redirect(target, status_code=303, cookies=cookies)


# --- rendering ----------------------------------------------------------------


def _page(
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
        flashes = _signer(request).open_messages(request.cookies[FLASH_COOKIE])
        cookies.append(_cookie(request, FLASH_COOKIE, "", max_age=0))  # shown once
    if session is not None and (renewed := _signer(request).refreshed(session)):
        cookies.append(_cookie(request, COOKIE, renewed))  # sliding idle expiry
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


def _error_page(request: Request[Any, Any, Any], status_code: int, message: str) -> Template:
    return _page(request, "error.html", status_code=status_code, error=message, status=status_code)


def _back_to(value: str, default: str) -> str:
    """A redirect target from a form: only our own dashboard pages.

    A path under /dashboard in plain URL characters: never another host (open
    redirect), never a line break (header injection).
    """
    return value if BACK_TO_RE.fullmatch(value) and len(value) <= 300 else default


# --- input parsing --------------------------------------------------------------


def _user_id(raw: str | None) -> int | None:
    if raw is None or not raw.strip():
        return None
    text = raw.strip()
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_USER_ID:
        raise BadInput(f"user id must be a whole number from 1 to {MAX_USER_ID}, not {text!r}")
    return int(text)


def _country(raw: str | None) -> str | None:
    if raw is None or not raw.strip():
        return None
    code = raw.strip().upper()
    if not COUNTRY_RE.match(code):
        raise BadInput(f"a country is a two-letter code such as GB, not {raw.strip()!r}")
    return code


def _field(form: Any, name: str) -> str:
    """A text field of a submitted form ('' when absent or a file)."""
    value = form.get(name)
    return value if isinstance(value, str) else ""


async def _checked_form(request: Request[Any, Any, Any]) -> Any:
    """The submitted form, once its CSRF token matches the session's."""
    form = await request.form()
    if not _current_operator(request).csrf_ok(_field(form, "csrf_token") or None):
        raise PermissionDeniedException("the form has expired: reload the page and try again")
    return form


# --- routing view -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RouteRow:
    """One gateway in a country's list, with what routing sees of it now."""

    gateway_id: str
    priority: int
    gateway: GatewayOut | None  # None only if the gateway vanished meanwhile

    @property
    def enabled(self) -> bool:
        return self.gateway is None or self.gateway.admin_status == "up"

    @property
    def available(self) -> bool:
        # Mirrors GatewayMonitors.is_available: degraded gateways go to the back.
        g = self.gateway
        return g is None or (g.health != "unhealthy" and g.breaker != "open")


@dataclass(frozen=True, slots=True)
class CountryRouting:
    code: str
    rows: list[RouteRow]

    @property
    def effective(self) -> list[RouteRow]:
        """The order the next payment tries (as ``route_payment`` ranks it)."""
        enabled = [r for r in self.rows if r.enabled]
        return [r for r in enabled if r.available] + [r for r in enabled if not r.available]


def _swap(entries: list[Priority], gateway_id: str, direction: str) -> list[Priority]:
    """Move one gateway a place up or down by swapping priority numbers with its neighbour.

    Swapping keeps the operator's numbering (10, 20, 30 stays so) instead of
    renumbering the whole list.
    """
    ordered = sorted(entries, key=lambda e: (e.priority, e.gateway_id))
    ids = [e.gateway_id for e in ordered]
    if gateway_id not in ids:
        raise BadInput(f"gateway {gateway_id} is not in this country's list")
    i = ids.index(gateway_id)
    j = i - 1 if direction == "up" else i + 1
    if not 0 <= j < len(ordered):
        return ordered
    a, b = ordered[i], ordered[j]
    ordered[i] = Priority(a.gateway_id, b.priority)
    ordered[j] = Priority(b.gateway_id, a.priority)
    return ordered


def _typed_priorities(form: Any, current: list[Priority]) -> list[Priority]:
    """The numbers typed for the country's current gateways (no others can be added)."""
    entries = []
    for e in current:
        raw = _field(form, f"priority.{e.gateway_id}").strip()
        if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_PRIORITY:
            raise BadInput(
                f"priority of {e.gateway_id} must be a whole number from 1 to {MAX_PRIORITY}"
            )
        entries.append(Priority(e.gateway_id, int(raw)))
    return entries


def _describe(entries: list[Priority]) -> str:
    return ", ".join(f"{e.gateway_id} {e.priority}" for e in entries)


# --- controllers --------------------------------------------------------------------


class LoginController(Controller):
    """The only dashboard pages open without a session."""

    path = BASE
    include_in_schema = False
    cache_control = NO_STORE

    @get("/login")
    async def login_page(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        if await open_session(request) is not None:
            return Redirect(BASE, status_code=303)
        return _page(request, "login.html", next=_back_to(request.query_params.get("next", ""), ""))

    @post("/login")
    async def login(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        """Exchange the admin API key for a session cookie.

        No CSRF token here: there is no session yet, and forging a login would
        need an admin key — with which the attacker could act directly anyway.
        Refused keys are counted per client address (see ``login_throttle``).
        """
        form = await request.form()
        key = _field(form, "api_key").strip()
        target = _back_to(_field(form, "next"), BASE)
        # Nothing is awaited from here on: concurrent guesses from one address
        # are counted one by one, none slips past the check.
        address = request.client.host if request.client else "unknown"
        throttle: LoginThrottle = request.route_handler.opt[THROTTLE_OPT]
        if (wait := throttle.retry_after(address)) is not None:
            error = f"Too many failed logins from your address; try again in {wait} seconds."
            page = _page(request, "login.html", status_code=429, error=error, next=target)
            page.headers["Retry-After"] = str(wait)
            return page
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
            return _page(request, "login.html", status_code=401, error=message, next=target)
        throttle.succeeded(address)
        # The same actor label the JSON API's auth binds (role and a short key
        # digest), so dashboard and API actions read alike in the audit trail.
        actor = f"{role.value}:{hashlib.sha256(key.encode()).hexdigest()[:10]}"
        set_actor(actor)
        cookie, _session = _signer(request).issue(actor)  # a fresh nonce: no fixation
        log.info("dashboard login")
        return Redirect(target, status_code=303, cookies=[_cookie(request, COOKIE, cookie)])


class DashboardController(Controller):
    """Pages that need an operator session; without one the guard sends to login."""

    path = BASE
    include_in_schema = False
    guards = [operator_guard]
    cache_control = NO_STORE
    dependencies = {"operator": Provide(_current_operator, sync_to_thread=False)}

    @post("/logout", status_code=303)
    async def logout(
        self, request: Request[Any, Any, Any], operator: NamedDependency[OperatorSession]
    ) -> Redirect:
        await _checked_form(request)
        # Shared and durable: a copy of the cookie is refused by every replica, after restarts too.
        await (await _revocations(request)).revoke(
            operator.nonce, _signer(request).expires_at(operator)
        )
        log.info("dashboard logout")
        return Redirect(LOGIN, status_code=303, cookies=[_cookie(request, COOKIE, "", max_age=0)])

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
        return _page(request, "gateways.html", gateways=gateways, open_issues=len(open_issues))

    @post("/gateways/{gateway_id:str}/status", status_code=303)
    async def set_gateway_status(
        self,
        request: Request[Any, Any, Any],
        gateway_id: FromPath[str],
        set_gateway_status: NamedDependency[SetGatewayStatus],
    ) -> Redirect:
        """Switch a gateway down (routing skips it) or up, as PUT /gateways/{id}/status."""
        form = await _checked_form(request)
        status = _field(form, "status")
        back = _back_to(_field(form, "back"), BASE)
        if not GATEWAY_RE.match(gateway_id) or status not in ("up", "down"):
            return _redirect(request, back, ("error", "Choose a gateway and 'up' or 'down'."))
        try:
            await set_gateway_status.execute(gateway_id, status)
        except PaymentError as exc:
            return _redirect(request, back, ("error", exc.detail))
        log.info("gateway %s switched %s from the dashboard", gateway_id, status)
        effect = "routing skips it" if status == "down" else "routing uses it again"
        return _redirect(request, back, ("ok", f"Gateway {gateway_id} is {status}: {effect}."))

    @get("/routing")
    async def routing(
        self,
        request: Request[Any, Any, Any],
        list_gateways: NamedDependency[ListGateways],
        get_country_gateways: NamedDependency[GetCountryGateways],
        country: FromQuery[str | None] = None,
    ) -> Template:
        """Each country's priority list, editable, with the order routing uses now.

        Shows the demo countries that are configured, plus ``?country=XX``.
        """
        error = None
        try:
            added = _country(country)
        except BadInput as exc:
            added, error = None, str(exc)
        gateways = {g.id: g for g in map(gateway_out, await list_gateways.execute())}
        countries = []
        for code in dict.fromkeys([*SUGGESTED_COUNTRIES, added]):
            if code is None:
                continue
            try:
                entries = await get_country_gateways.execute(code)
            except NotFound:
                if code == added:
                    error = f"Country {code} is not configured."
                continue
            rows = [RouteRow(e.gateway_id, e.priority, gateways.get(e.gateway_id)) for e in entries]
            countries.append(CountryRouting(code, rows))
        return _page(
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
        form = await _checked_form(request)
        back = f"{BASE}/routing"
        try:
            code = _country(country)
            if code is None:
                raise BadInput("choose a country")
            shown = "" if code in SUGGESTED_COUNTRIES else f"?country={code}"
            back = f"{BASE}/routing{shown}#country-{code}"
            current = await get_country_gateways.execute(code)
            action = _field(form, "action")
            direction, _, gateway_id = action.partition(":")
            if direction in ("up", "down") and gateway_id:
                entries = _swap(current, gateway_id, direction)
            elif action == "save":
                entries = _typed_priorities(form, current)
            else:
                raise BadInput("unknown action")
            saved = await set_country_gateways.execute(code, entries)
        except BadInput as exc:
            return _redirect(request, back, ("error", str(exc)))
        except PaymentError as exc:
            return _redirect(request, back, ("error", exc.detail))
        log.info("country %s priorities set from the dashboard", code)
        return _redirect(request, back, ("ok", f"{code} priorities saved: {_describe(saved)}."))

    @get("/transactions")
    async def transactions(
        self,
        request: Request[Any, Any, Any],
        list_transactions: NamedDependency[ListTransactions],
        user_id: FromQuery[str | None] = None,
        status: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
    ) -> Template:
        """Newest first, filtered by user and status, one page at a time."""
        filters = {"user_id": (user_id or "").strip(), "status": (status or "").strip()}
        items: list[Any] = []
        next_url = None
        error = None
        try:
            uid = _user_id(user_id)
            state = filters["status"] or None
            if state is not None and state not in STATUSES:
                raise BadInput(f"status must be one of {', '.join(STATUSES)}")
            if cursor is not None and len(cursor) > 200:
                raise BadInput("the page link is not valid")
            page = await list_transactions.execute(
                ListTransactionsQuery(user_id=uid, status=state, limit=PAGE_SIZE, cursor=cursor)
            )
        except BadInput as exc:
            error = str(exc)
        except PaymentError as exc:
            error = exc.detail
        else:
            items = [transaction_out(tx) for tx in page.items]
            if page.next_cursor:
                query = "&".join(f"{k}={quote(v)}" for k, v in filters.items() if v)
                next_url = f"{BASE}/transactions?{query}&cursor={quote(page.next_cursor)}"
        return _page(
            request,
            "transactions.html",
            status_code=400 if error else 200,
            error=error,
            items=items,
            filters=filters,
            statuses=STATUSES,
            next_url=next_url,
            first_page=cursor is None,
        )

    @get("/transactions/{transaction_id:str}")
    async def transaction(
        self,
        request: Request[Any, Any, Any],
        transaction_id: FromPath[str],
        get_transaction: NamedDependency[GetTransaction],
    ) -> Template:
        """One transaction: its fields, every gateway attempt and its audit history."""
        try:
            details = await get_transaction.execute(transaction_id[:100])
        except NotFound:
            return _error_page(request, 404, f"Transaction {transaction_id[:100]} does not exist.")
        return _page(request, "transaction.html", tx=transaction_detail_out(details))

    @get("/balances")
    async def balances(
        self,
        request: Request[Any, Any, Any],
        get_balances: NamedDependency[GetBalances],
        user_id: FromQuery[str | None] = None,
    ) -> Template:
        """A user's available and held balance per currency."""
        rows = None
        error = None
        status_code = 200
        try:
            uid = _user_id(user_id)
            if uid is not None:
                rows = [balance_out(b) for b in await get_balances.execute(uid)]
        except BadInput as exc:
            error, status_code = str(exc), 400
        except NotFound as exc:
            error, status_code = exc.detail, 404
        return _page(
            request,
            "balances.html",
            status_code=status_code,
            error=error,
            user_id=(user_id or "").strip(),
            rows=rows,
        )

    @get("/issues")
    async def issues(
        self,
        request: Request[Any, Any, Any],
        list_issues: NamedDependency[ListIssues],
        status: FromQuery[str | None] = None,
    ) -> Template:
        """Reconciliation findings: open ones, or all with ``status=all``."""
        show_all = status == "all"
        found = await list_issues.execute(open_only=not show_all, limit=500)
        return _page(request, "issues.html", issues=found, show_all=show_all)


# --- errors -------------------------------------------------------------------------


def _to_login(request: Request[Any, Any, Any], _: Exception) -> Response[Any]:
    # Remember the page asked for (GET only: a form post cannot be replayed).
    target = LOGIN
    if request.method == "GET" and request.url.path != BASE:
        target += f"?next={quote(request.url.path)}"
    return Redirect(target, status_code=303)


def _bad_input(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    return _error_page(request, 400, str(exc))


def _payment_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    assert isinstance(exc, PaymentError)
    if isinstance(exc, ServiceUnavailable):  # the database, e.g. for the session check
        return _error_page(request, 503, exc.detail)
    return _error_page(request, 404 if isinstance(exc, NotFound) else 400, exc.detail)


def _http_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    assert isinstance(exc, HTTPException)
    return _error_page(request, exc.status_code, str(exc.detail))


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("dashboard error", exc_info=exc)
    return _error_page(request, 500, "Something went wrong; the details are in the server log.")


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
            DashboardController,
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
