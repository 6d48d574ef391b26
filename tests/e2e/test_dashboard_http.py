"""The dashboard's HTTP contract without a browser: sessions, CSRF, bad input, headers."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator

import httpx
import pytest

from adapters.crypto.keyring import Keyring
from adapters.postgres.pool import open_pool
from adapters.postgres.unit_of_work import unit_of_work_factory
from application.ports import AuditEntry
from tests.e2e.helpers import run_async
from tests.support.api import ADMIN, ADMIN_KEY, CLIENT_KEY, ENCRYPTION_KEYS, deposit, serve_api

PAGES = [
    "/dashboard",
    "/dashboard/routing",
    "/dashboard/transactions",
    "/dashboard/balances",
    "/dashboard/issues",
]


def logged_in(api: httpx.Client) -> httpx.Client:
    """A cookie-keeping client on the same server, logged in with the admin key."""
    client = httpx.Client(base_url=api.base_url, timeout=15)
    r = client.post("/dashboard/login", data={"api_key": ADMIN_KEY})
    assert r.status_code == 303, r.text
    return client


@pytest.fixture
def operator(api: httpx.Client) -> Iterator[httpx.Client]:
    client = logged_in(api)
    try:
        yield client
    finally:
        client.close()


def csrf_token(client: httpx.Client, page: str = "/dashboard") -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(page).text)
    assert found, "no CSRF token on the page"
    return found.group(1)


def test_every_page_needs_a_session(api: httpx.Client) -> None:
    for page in PAGES:
        r = api.get(page)
        assert r.status_code == 303, page
        assert r.headers["location"].startswith("/dashboard/login"), page
    r = api.post("/dashboard/gateways/stripe/status", data={"status": "down"})
    assert r.status_code == 303
    # An API key in the header is no substitute for the session cookie.
    assert api.get("/dashboard", headers=ADMIN).status_code == 303
    assert api.get("/gateways", headers=ADMIN).json()[1]["admin_status"] == "up"


def test_login_form_refuses_client_and_unknown_keys(api: httpx.Client) -> None:
    for key in ("", "nope", CLIENT_KEY, ADMIN_KEY + " extra"):
        r = api.post("/dashboard/login", data={"api_key": key})
        assert r.status_code == 401, key
        assert "set-cookie" not in r.headers
        assert "text/html" in r.headers["content-type"]


def test_session_cookie_is_opaque_http_only_and_same_site_strict(api: httpx.Client) -> None:
    r = api.post("/dashboard/login", data={"api_key": ADMIN_KEY})
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("payments_dashboard=")
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Path=/dashboard" in cookie
    assert "Secure" not in cookie  # plain http here; https requests get Secure
    assert ADMIN_KEY not in cookie
    # A login never reuses an old session id (no fixation).
    again = api.post("/dashboard/login", data={"api_key": ADMIN_KEY})
    assert again.headers["set-cookie"].split(";")[0] != cookie.split(";")[0]


def test_a_session_opens_every_process_of_the_deployment(
    api: httpx.Client, demo_database_url: str
) -> None:
    # Production runs several workers and replicas: a cookie issued by one
    # must open the others (same configuration, same derived signing key).
    r = api.post("/dashboard/login", data={"api_key": ADMIN_KEY})
    session = r.cookies["payments_dashboard"]
    with serve_api(demo_database_url) as other:
        page = other.get("/dashboard", headers={"Cookie": f"payments_dashboard={session}"})
        assert page.status_code == 200
        assert "Switch down" in page.text
        # A different deployment (other admin keys) does not accept it.
        with serve_api(demo_database_url, PAYMENTS_ADMIN_API_KEYS="another-admin-key") as foreign:
            refused = foreign.get("/dashboard", headers={"Cookie": f"payments_dashboard={session}"})
            assert refused.status_code == 303


def test_pages_render_with_security_headers_and_stay_out_of_openapi(
    api: httpx.Client, operator: httpx.Client
) -> None:
    deposit(api, 1, "5.00", "USD")
    for page in PAGES:
        r = operator.get(page)
        assert r.status_code == 200, (page, r.text)
        assert "text/html" in r.headers["content-type"]
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        assert r.headers["cache-control"] == "no-store"
        assert r.headers["x-content-type-options"] == "nosniff"
    assert operator.get("/dashboard/static/dashboard.css").status_code == 200
    assert operator.get("/dashboard/static/dashboard.js").status_code == 200
    assert "/dashboard" not in api.get("/schema/openapi.json").text


# (page, status, text the page must show): each is a message, never a 500.
BAD_INPUT = [
    ("/dashboard/transactions?user_id=abc", 400, "User id must be a whole number"),
    ("/dashboard/transactions?user_id=-1", 400, "User id must be a whole number"),
    ("/dashboard/transactions?user_id=99999999999999999999", 400, "User id must be"),
    ("/dashboard/transactions?status=lost", 400, "Status must be one of"),
    ("/dashboard/transactions?cursor=%00%ff", 400, "Cursor is not valid"),
    ("/dashboard/transactions?cursor=" + "a" * 300, 400, "The page link is not valid"),
    ("/dashboard/transactions/not-a-uuid", 404, "does not exist"),
    ("/dashboard/transactions/01900000-0000-7000-8000-000000000000", 404, "does not exist"),
    ("/dashboard/balances?user_id=999", 404, "User 999 does not exist"),
    ("/dashboard/balances?user_id=1.5", 400, "User id must be a whole number"),
    ("/dashboard/routing?country=Germany", 400, "Two-letter code"),
    ("/dashboard/routing?country=FR", 400, "Country FR is not configured"),
    ("/dashboard/routing?country=%3Cscript%3E", 400, "&lt;script&gt;"),
    ("/dashboard/issues?status=whatever", 200, ""),
]


def test_bad_input_is_a_message_on_the_page_never_a_500(operator: httpx.Client) -> None:
    for page, status, message in BAD_INPUT:
        r = operator.get(page)
        assert r.status_code == status, (page, r.text)
        assert "text/html" in r.headers["content-type"], page
        assert message.lower() in r.text.lower(), (page, r.text)
        assert "<script>" not in r.text, page  # escaped, always


def test_forms_without_the_session_csrf_token_are_refused(
    api: httpx.Client, operator: httpx.Client
) -> None:
    posts = [
        ("/dashboard/gateways/stripe/status", {"status": "down"}),
        ("/dashboard/routing/GB", {"action": "down:stripe"}),
        ("/dashboard/logout", {}),
    ]
    for path, form in posts:
        for token in (None, "forged"):
            data = form if token is None else {**form, "csrf_token": token}
            r = operator.post(path, data=data)
            assert r.status_code == 403, (path, r.text)
            assert "form has expired" in r.text
    # Nothing changed, and the session still works.
    assert api.get("/gateways", headers=ADMIN).json()[1]["admin_status"] == "up"
    countries = api.get("/countries/GB/gateways", headers=ADMIN).json()
    assert countries[0]["gateway_id"] == "stripe"
    assert operator.get("/dashboard").status_code == 200


def test_bad_form_values_are_flashed_and_change_nothing(
    api: httpx.Client, operator: httpx.Client
) -> None:
    token = csrf_token(operator)
    cases = [
        ("/dashboard/gateways/stripe/status", {"status": "sideways"}, "Choose a gateway"),
        ("/dashboard/gateways/nope/status", {"status": "down"}, "Gateway nope does not exist"),
        ("/dashboard/routing/GB", {"action": "save", "priority.stripe": "x"}, "whole number"),
        ("/dashboard/routing/GB", {"action": "save", "priority.stripe": "\u00b2"}, "whole number"),
        ("/dashboard/routing/GB", {"action": "up:nope"}, "nope is not in this country"),
        ("/dashboard/routing/GB", {"action": "sideways:stripe"}, "Unknown action"),
        ("/dashboard/routing/FR", {"action": "up:stripe"}, "Country FR is not configured"),
        ("/dashboard/routing/gb1", {"action": "up:stripe"}, "Two-letter code"),
    ]
    for path, form, message in cases:
        r = operator.post(path, data={**form, "csrf_token": token})
        assert r.status_code == 303, (path, r.text)
        shown = operator.get(r.headers["location"])
        assert message.lower() in shown.text.lower(), (path, shown.text)
    assert api.get("/gateways", headers=ADMIN).json()[1]["admin_status"] == "up"
    countries = api.get("/countries/GB/gateways", headers=ADMIN).json()
    assert [c["gateway_id"] for c in countries] == ["stripe", "paypal", "adyen"]


def test_operator_actions_are_audited_like_api_calls(
    api: httpx.Client, operator: httpx.Client, demo_database_url: str
) -> None:
    token = csrf_token(operator)
    r = operator.post(
        "/dashboard/gateways/paypal/status", data={"status": "down", "csrf_token": token}
    )
    assert r.status_code == 303
    # Routing follows at once: user 1 (US, paypal first) is served by stripe.
    assert deposit(api, 1, "7.00", "USD").json()["gateway"] == "stripe"
    r = operator.post("/dashboard/routing/US", data={"action": "down:paypal", "csrf_token": token})
    assert r.status_code == 303
    # The same switch through the JSON API, for comparison.
    api.put("/gateways/paypal/status", json={"status": "up"}, headers=ADMIN)

    gateway = audit(demo_database_url, "gateway", "paypal")
    assert [(e.action, e.details) for e in gateway] == [
        ("gateway.status_set", {"status": "down"}),
        ("gateway.status_set", {"status": "up"}),
    ]
    # One actor label for the key, whichever way it acted: role and a short digest.
    actor = "admin:" + hashlib.sha256(ADMIN_KEY.encode()).hexdigest()[:10]
    assert [e.actor for e in gateway] == [actor, actor]
    (country,) = audit(demo_database_url, "country", "US")
    assert country.actor == actor
    assert country.details["after"] == [["stripe", 1], ["paypal", 2], ["adyen", 3]]


def test_logout_ends_the_session(operator: httpx.Client) -> None:
    token = csrf_token(operator)
    r = operator.post("/dashboard/logout", data={"csrf_token": token})
    assert r.status_code == 303
    assert r.headers["location"] == "/dashboard/login"
    assert operator.get("/dashboard").status_code == 303


def audit(database_url: str, subject_type: str, subject_id: str) -> list[AuditEntry]:
    """The audit trail of one subject, read with a pool of our own (not the server's)."""

    async def read() -> list[AuditEntry]:
        pool = await open_pool(database_url, min_size=1, max_size=1)
        try:
            async with unit_of_work_factory(pool, Keyring.parse(ENCRYPTION_KEYS))() as uow:
                return await uow.audit.history(subject_type, subject_id)
        finally:
            await pool.close()

    return run_async(read())
