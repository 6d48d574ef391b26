"""Dashboard logouts are kept in PostgreSQL: they outlive restarts and reach every replica."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
from psycopg_pool import AsyncConnectionPool

from adapters.postgres.session_revocations import PostgresSessionRevocations
from tests.support.api import ADMIN_KEY, serve_api

COOKIE = "payments_dashboard"


def log_in(api: httpx.Client) -> str:
    r = api.post("/dashboard/login", data={"api_key": ADMIN_KEY})
    assert r.status_code == 303, r.text
    return r.cookies[COOKIE]


def get(api: httpx.Client, path: str, cookie: str) -> httpx.Response:
    """A request from a browser holding ``cookie`` (and nothing else)."""
    with httpx.Client(base_url=api.base_url, cookies={COOKIE: cookie}, timeout=15) as browser:
        return browser.get(path)


def page_with(api: httpx.Client, cookie: str) -> httpx.Response:
    return get(api, "/dashboard", cookie)


def log_out(api: httpx.Client, cookie: str) -> None:
    with httpx.Client(base_url=api.base_url, cookies={COOKIE: cookie}, timeout=15) as browser:
        page = browser.get("/dashboard")
        assert page.status_code == 200, page.text
        found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert found
        r = browser.post("/dashboard/logout", data={"csrf_token": found.group(1)})
        assert r.status_code == 303
        assert r.headers["location"] == "/dashboard/login"


def refused(r: httpx.Response) -> bool:
    return r.status_code == 303 and r.headers["location"].startswith("/dashboard/login")


def test_a_logged_out_cookie_is_refused_after_a_restart_and_by_other_replicas(
    demo_database_url: str,
) -> None:
    with serve_api(demo_database_url) as one, serve_api(demo_database_url) as other:
        logged_out = log_in(one)
        kept = log_in(one)
        assert page_with(other, logged_out).status_code == 200  # replicas share sessions
        log_out(one, logged_out)
        assert refused(page_with(one, logged_out))
        assert refused(page_with(other, logged_out))  # the other replica knows at once
        assert page_with(other, kept).status_code == 200

    # A restart: a new app and container on the same database.
    with serve_api(demo_database_url) as restarted:
        assert refused(page_with(restarted, logged_out))
        # The login page does not take it for a session either.
        r = get(restarted, "/dashboard/login", logged_out)
        assert r.status_code == 200
        assert page_with(restarted, kept).status_code == 200  # only the logged-out one


async def test_postgres_revocations_remember_nonces_and_purge_expired_rows(
    pool: AsyncConnectionPool, database_url: str
) -> None:
    store = PostgresSessionRevocations(pool)
    later = datetime.now(UTC) + timedelta(hours=8)
    assert not await store.is_revoked("nonce-a")
    await store.revoke("nonce-a", later)
    await store.revoke("nonce-a", later)  # twice (a double-clicked logout) is fine
    assert await store.is_revoked("nonce-a")
    assert not await store.is_revoked("nonce-b")
    # Another process (no local cache) reads the same row.
    assert await PostgresSessionRevocations(pool).is_revoked("nonce-a")

    await store.revoke("nonce-old", datetime.now(UTC) - timedelta(seconds=1))
    await store.revoke("nonce-c", later)  # each revoke purges what has expired
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cur = await conn.execute("SELECT nonce FROM dashboard_revocations ORDER BY nonce")
        assert [n for (n,) in await cur.fetchall()] == ["nonce-a", "nonce-c"]
