"""Velocity limits and withdrawable money end to end: real PostgreSQL, the sandbox PSPs.

The demo's user 1 is in the US (USD; paypal first, whose sandbox completes
deposits by its own signed callback).
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest
from dependency_injector import providers

from entrypoints.container import make_container
from entrypoints.http.app import create_app
from entrypoints.serve import build_sandbox
from tests.support.api import (
    ADMIN,
    CLIENT,
    check_invariants,
    deposit,
    make_settings,
    wait_for_status,
    withdraw,
)
from tests.support.server import free_port, running


@dataclass
class MovableClock:
    """The service's Clock, moved by the test."""

    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def now(self) -> datetime:
        return self.at


@contextmanager
def serve_with_clock(database_url: str, clock: MovableClock, **env: str) -> Iterator[httpx.Client]:
    """The service (with its sandbox) whose every use case reads ``clock``."""
    port = free_port()
    settings = make_settings(database_url, port, **env)
    container = make_container(settings)
    container.clock.override(providers.Object(clock))
    sandbox, sender = build_sandbox(settings)
    app = create_app(settings, container, sandbox, on_shutdown=[sender.aclose])
    with running(app, port) as base, httpx.Client(base_url=base, timeout=15) as client:
        yield client


def rows(database_url: str, query: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(query).fetchone()
    assert row is not None
    return int(row[0])


def balance(api: httpx.Client, user_id: int, currency: str) -> dict[str, str]:
    r = api.get(f"/users/{user_id}/balances", headers=CLIENT)
    assert r.status_code == 200, r.text
    found: dict[str, str] = next(b for b in r.json() if b["currency"] == currency)
    return found


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def api(demo_database_url: str, clock: MovableClock) -> Iterator[httpx.Client]:
    with serve_with_clock(demo_database_url, clock, PAYMENTS_DB_POOL_MAX="10") as client:
        yield client


def test_twenty_concurrent_deposits_against_a_daily_count_of_five_let_exactly_five_in(
    api: httpx.Client, demo_database_url: str
) -> None:
    r = api.put("/countries/US/limits", json={"deposit": {"daily_count": 5}}, headers=ADMIN)
    assert r.status_code == 200, r.text
    assert r.json() == {"deposit": {"daily_count": 5}}

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(lambda _: deposit(api, 1, "10.00", "USD"), range(20)))

    accepted = [a for a in answers if a.status_code == 201]
    refused = [a for a in answers if a.status_code == 422]
    assert len(accepted) == 5, [a.text for a in answers if a.status_code not in (201, 422)]
    assert len(refused) == 15
    problem = refused[0].json()
    assert problem["type"].endswith("/limit-exceeded")
    assert (problem["limit"], problem["window"]) == ("daily_count", "24h")
    assert datetime.fromisoformat(problem["resets_at"]) > datetime.now(UTC) + timedelta(hours=23)
    # Nothing recorded for the refused ones.
    assert rows(demo_database_url, "SELECT count(*) FROM transactions") == 5
    for a in accepted:
        wait_for_status(api, a.json()["transaction_id"], "completed")
    check_invariants(demo_database_url, str(api.base_url))


def test_amount_limits_refuse_with_the_limit_named_and_other_currencies_are_free(
    api: httpx.Client, demo_database_url: str
) -> None:
    body = {"deposit": {"max_amount": "100.00", "daily_amount": "150.00"}}
    assert api.put("/countries/US/limits", json=body, headers=ADMIN).status_code == 200
    assert api.get("/countries/US/limits", headers=ADMIN).json() == body

    too_big = deposit(api, 1, "100.01", "USD")
    assert too_big.status_code == 422, too_big.text
    assert (too_big.json()["limit"], too_big.json()["resets_at"]) == ("max_amount", None)
    assert deposit(api, 1, "100.00", "USD").status_code == 201
    over_day = deposit(api, 1, "60.00", "USD")
    assert over_day.status_code == 422
    assert over_day.json()["limit"] == "daily_amount"
    assert deposit(api, 1, "50.00", "USD").status_code == 201
    # The limits are in the country's currency; EUR is not limited.
    assert deposit(api, 1, "500.00", "EUR").status_code == 201
    assert rows(demo_database_url, "SELECT count(*) FROM transactions") == 3
    audited = "SELECT count(*) FROM audit_log WHERE action = 'country.limits_set'"
    assert rows(demo_database_url, audited) == 1


def test_limits_with_bad_input_are_refused_and_change_nothing(api: httpx.Client) -> None:
    for body in (
        {"deposit": {"daily_count": 0}},
        {"deposit": {"max_amount": "1.001"}},
        {"deposit": {"daily_count": "5"}},
        {"refund": {}},
    ):
        r = api.put("/countries/US/limits", json=body, headers=ADMIN)
        assert 400 <= r.status_code < 500, (body, r.text)
    assert api.get("/countries/US/limits", headers=ADMIN).json() == {}
    assert api.put("/countries/ZZ/limits", json={}, headers=ADMIN).status_code == 404
    assert api.put("/countries/US/limits", json={}, headers=CLIENT).status_code == 403


def test_a_deposit_through_a_72h_window_is_not_withdrawable_until_the_window_passes(
    api: httpx.Client, demo_database_url: str, clock: MovableClock
) -> None:
    r = api.put("/gateways/paypal", json={"reversal_window_hours": 72}, headers=ADMIN)
    assert r.status_code == 200, r.text
    assert r.json() == {"id": "paypal", "reversal_window_hours": 72}
    audited = "SELECT count(*) FROM audit_log WHERE action = 'gateway.reversal_window_set'"
    assert rows(demo_database_url, audited) == 1
    for bad in ({"reversal_window_hours": -1}, {"reversal_window_hours": "72"}, {}):
        assert api.put("/gateways/paypal", json=bad, headers=ADMIN).status_code == 400
    assert api.put(
        "/gateways/nope", json={"reversal_window_hours": 1}, headers=ADMIN
    ).is_client_error

    made = deposit(api, 1, "100.00", "USD")
    assert made.status_code == 201, made.text
    assert made.json()["gateway"] == "paypal"
    wait_for_status(api, made.json()["transaction_id"], "completed")
    assert balance(api, 1, "USD") == {
        "currency": "USD",
        "available": "100.00",
        "withdrawable": "0.00",
        "held": "0.00",
    }
    refused = withdraw(api, 1, "50.00", "USD")
    assert refused.status_code == 422, refused.text
    assert refused.json()["type"].endswith("/insufficient-funds")
    assert "reversal window" in refused.json()["detail"]
    assert rows(demo_database_url, "SELECT count(*) FROM transactions") == 1

    clock.at += timedelta(hours=71, minutes=59)
    assert balance(api, 1, "USD")["withdrawable"] == "0.00"
    clock.at += timedelta(minutes=2)
    assert balance(api, 1, "USD")["withdrawable"] == "100.00"
    paid = withdraw(api, 1, "50.00", "USD")
    assert paid.status_code == 201, paid.text
    wait_for_status(api, paid.json()["transaction_id"], "completed")
    assert balance(api, 1, "USD")["available"] == "50.00"
    check_invariants(demo_database_url, str(api.base_url))
