"""Dashboard login and logout over in-memory adapters, through the real wiring.

Logins are throttled per client address (the connection's peer, never a
header); logouts go through the SessionRevocations port, so every app sharing
one store refuses a logged-out cookie.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from dependency_injector import providers
from litestar import Litestar
from litestar.testing import TestClient
from litestar.types import ASGIApp, Receive, Scope, Send

from adapters.memory.session_revocations import MemorySessionRevocations
from adapters.postgres.session_revocations import PostgresSessionRevocations
from application.ports import SessionRevocations
from domain.errors import ServiceUnavailable
from entrypoints.container import Container
from entrypoints.http.app import create_app
from entrypoints.http.dashboard.guard import COOKIE
from entrypoints.settings import SettingsError, load_settings
from tests.unit.conftest import ADMIN_KEY, CLIENT_KEY, World

LOGIN = "/dashboard/login"
CONTROLLER_LOG = "entrypoints.http.dashboard.login"


def _peer_from_test_header(handler: ASGIApp) -> ASGIApp:
    """Let a test choose the TCP peer (TestClient always says "testclient")."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        peer = dict(scope.get("headers", [])).get(b"x-test-peer")
        if peer is not None:
            scope["client"] = (peer.decode(), 50000)
        await handler(scope, receive, send)

    return wrapped


def build_app(world: World, revocations: SessionRevocations) -> Litestar:
    world.container.session_revocations.override(providers.Object(revocations))
    app = create_app(world.container.settings(), world.container)
    app.asgi_handler = _peer_from_test_header(app.asgi_handler)
    return app


@pytest.fixture
def revocations() -> MemorySessionRevocations:
    return MemorySessionRevocations()


@pytest.fixture
def client(world: World, revocations: MemorySessionRevocations) -> Iterator[TestClient[Any]]:
    with TestClient(build_app(world, revocations)) as c:
        yield c


def login(client: TestClient[Any], key: str, peer: str, **headers: str) -> Any:
    return client.post(
        LOGIN,
        data={"api_key": key},
        headers={"x-test-peer": peer, **headers},
        follow_redirects=False,
    )


def refused_from(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == CONTROLLER_LOG and "login refused" in r.getMessage()
    ]


def test_the_sixth_wrong_key_from_one_address_is_refused_with_429_and_retry_after(
    client: TestClient[Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=CONTROLLER_LOG)
    for n in range(5):
        assert login(client, f"guess-{n}", "203.0.113.7").status_code == 401
    refused = refused_from(caplog)
    assert len(refused) == 5
    assert all("203.0.113.7" in line for line in refused), refused

    r = login(client, "guess-5", "203.0.113.7")
    assert r.status_code == 429, r.text
    assert "text/html" in r.headers["content-type"]
    assert 1 <= int(r.headers["retry-after"]) <= 300
    assert "Too many failed logins" in r.text
    # Throttled means the key is not even looked at: the right one is refused too.
    r = login(client, ADMIN_KEY, "203.0.113.7")
    assert r.status_code == 429
    assert COOKIE not in r.cookies
    assert "set-cookie" not in r.headers
    assert all("203.0.113.7" in line for line in refused_from(caplog))


def test_another_address_is_unaffected_by_a_throttled_one(client: TestClient[Any]) -> None:
    for n in range(6):
        login(client, f"guess-{n}", "203.0.113.7")
    assert login(client, "guess", "203.0.113.7").status_code == 429

    assert login(client, "typo", "198.51.100.2").status_code == 401
    r = login(client, ADMIN_KEY, "198.51.100.2")
    assert r.status_code == 303
    assert COOKIE in r.cookies


def test_a_forwarded_for_header_does_not_escape_the_throttle(
    client: TestClient[Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=CONTROLLER_LOG)
    # No trusted-proxy setting exists: the header is the client's to invent.
    for n in range(5):
        r = login(client, f"guess-{n}", "203.0.113.7", **{"x-forwarded-for": f"10.0.0.{n}"})
        assert r.status_code == 401
    r = login(client, "guess", "203.0.113.7", **{"x-forwarded-for": "10.9.9.9"})
    assert r.status_code == 429
    assert not any("10.0.0." in line for line in refused_from(caplog))


def test_a_successful_login_resets_the_address(client: TestClient[Any]) -> None:
    for n in range(4):
        assert login(client, f"guess-{n}", "203.0.113.7").status_code == 401
    assert login(client, ADMIN_KEY, "203.0.113.7").status_code == 303
    # A fresh budget: five more refusals before the 429.
    for n in range(5):
        assert login(client, f"again-{n}", "203.0.113.7").status_code == 401
    assert login(client, "again", "203.0.113.7").status_code == 429


def test_a_client_key_counts_as_a_failed_dashboard_login(client: TestClient[Any]) -> None:
    for _ in range(5):
        assert login(client, CLIENT_KEY, "203.0.113.7").status_code == 401
    assert login(client, CLIENT_KEY, "203.0.113.7").status_code == 429


def csrf_token(client: TestClient[Any]) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/dashboard").text)
    assert found, "no CSRF token on the page"
    return found.group(1)


def test_a_logged_out_cookie_is_refused_by_every_app_sharing_the_revocations(
    world: World, revocations: MemorySessionRevocations
) -> None:
    with (
        TestClient(build_app(world, revocations)) as one,
        TestClient(build_app(world, revocations)) as other,
    ):
        assert login(one, ADMIN_KEY, "203.0.113.7").status_code == 303
        cookie = one.cookies[COOKIE]
        other.cookies.set(COOKIE, cookie, path="/dashboard")
        assert other.get("/dashboard").status_code == 200

        token = csrf_token(one)
        r = one.post("/dashboard/logout", data={"csrf_token": token}, follow_redirects=False)
        assert r.status_code == 303
        assert revocations.revoked  # recorded in the shared store, not in the app

        one.cookies.set(COOKIE, cookie, path="/dashboard")  # a copy kept after logout
        for app in (one, other):
            r = app.get("/dashboard", follow_redirects=False)
            assert r.status_code == 303
            assert r.headers["location"].startswith(LOGIN)
            assert app.get(LOGIN).status_code == 200  # the login form, not a redirect


class UnreachableRevocations:
    async def revoke(self, nonce: str, until: datetime) -> None:
        raise ServiceUnavailable("the database is not reachable")

    async def is_revoked(self, nonce: str) -> bool:
        raise ServiceUnavailable("the database is not reachable")


def test_without_the_database_a_session_is_not_let_in_and_the_page_says_503(
    world: World,
) -> None:
    with TestClient(build_app(world, UnreachableRevocations())) as client:
        assert login(client, ADMIN_KEY, "203.0.113.7").status_code == 303
        r = client.get("/dashboard", follow_redirects=False)
        assert r.status_code == 503
        assert "not reachable" in r.text
        assert "csrf_token" not in r.text  # no page of the dashboard was rendered


async def test_the_in_memory_revocations_forget_only_what_has_expired() -> None:
    store = MemorySessionRevocations()
    later = datetime.now(UTC) + timedelta(hours=8)
    await store.revoke("nonce-a", later)
    await store.revoke("nonce-old", datetime.now(UTC) - timedelta(seconds=1))
    await store.revoke("nonce-c", later)  # each revoke purges what has expired
    assert await store.is_revoked("nonce-a")
    assert not await store.is_revoked("nonce-b")
    assert sorted(store.revoked) == ["nonce-a", "nonce-c"]


def test_serve_wires_the_postgres_revocations_never_the_in_memory_ones() -> None:
    assert Container.session_revocations.cls is PostgresSessionRevocations


def test_dashboard_login_limits_are_read_from_the_environment() -> None:
    default = load_settings({})
    assert (default.dashboard_login_max_failures, default.dashboard_login_window_s) == (5, 300)
    custom = load_settings(
        {
            "PAYMENTS_DASHBOARD_LOGIN_MAX_FAILURES": "3",
            "PAYMENTS_DASHBOARD_LOGIN_WINDOW_S": "60",
        }
    )
    assert (custom.dashboard_login_max_failures, custom.dashboard_login_window_s) == (3, 60)
    bad: list[Callable[[], object]] = [
        lambda: load_settings({"PAYMENTS_DASHBOARD_LOGIN_MAX_FAILURES": "0"}),
        lambda: load_settings({"PAYMENTS_DASHBOARD_LOGIN_WINDOW_S": "0"}),
    ]
    for attempt in bad:
        with pytest.raises(SettingsError):
            attempt()
