"""Closed-loop withdrawals end to end: real PostgreSQL, the sandbox PSPs over real HTTP.

User 1 (US) funds 60.00 through paypal, then 40.00 through stripe; with the
country's switch on, a withdrawal goes back through stripe first (newest),
then paypal. The gateways are configured explicitly (stripe as a JSON
gateway that can pay out), so the test does not depend on the demo default.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.api import (
    ADMIN,
    CLIENT,
    behave,
    check_invariants,
    deposit,
    serve_api,
    wait_for_status,
    withdraw,
)

GATEWAYS = "paypal:json,stripe:json,adyen:soap"


def switch_closed_loop(api: httpx.Client, country: str) -> None:
    """The country's switch, through its routing document (the rest kept as it is)."""
    routing = api.get(f"/countries/{country}/routing", headers=ADMIN).json()
    r = api.put(
        f"/countries/{country}/routing", json={**routing, "closed_loop": True}, headers=ADMIN
    )
    assert r.status_code == 200, r.text
    assert r.json()["closed_loop"] is True


@pytest.fixture
def api(demo_database_url: str) -> Iterator[httpx.Client]:
    with serve_api(demo_database_url, PAYMENTS_DB_POOL_MAX="10", PAYMENTS_GATEWAYS=GATEWAYS) as c:
        yield c


def funded_through(api: httpx.Client, gateway: str, amount: str) -> None:
    others = [g for g in ("paypal", "stripe", "adyen") if g != gateway]
    for g in others:
        assert api.put(f"/gateways/{g}/status", json={"status": "down"}, headers=ADMIN).is_success
    r = deposit(api, 1, amount, "USD")
    assert r.status_code == 201, r.text
    assert r.json()["gateway"] == gateway
    wait_for_status(api, r.json()["transaction_id"], "completed")
    for g in others:
        assert api.put(f"/gateways/{g}/status", json={"status": "up"}, headers=ADMIN).is_success


def legs_of(api: httpx.Client, parent_id: str) -> list[tuple[str | None, str, str]]:
    body = api.get(f"/transactions/{parent_id}", headers=CLIENT).json()
    return [(leg["gateway"], leg["amount"], leg["status"]) for leg in body["legs"]]


def available(api: httpx.Client) -> str:
    rows = api.get("/users/1/balances", headers=CLIENT).json()
    found: str = next(b for b in rows if b["currency"] == "USD")["available"]
    return found


@pytest.fixture
def funded(api: httpx.Client, demo_database_url: str) -> httpx.Client:
    funded_through(api, "paypal", "60.00")
    funded_through(api, "stripe", "40.00")
    switch_closed_loop(api, "US")
    return api


def test_a_withdrawal_goes_back_newest_source_first_in_two_legs(
    funded: httpx.Client, demo_database_url: str
) -> None:
    r = withdraw(funded, 1, "80.00", "USD", destination={"iban": "DE00123"})
    assert r.status_code == 201, r.text
    parent = r.json()["transaction_id"]
    wait_for_status(funded, parent, "completed")
    legs = legs_of(funded, parent)
    assert legs == [("stripe", "40.00", "completed"), ("paypal", "40.00", "completed")]
    assert available(funded) == "20.00"
    check_invariants(demo_database_url, str(funded.base_url))


def test_a_refused_leg_moves_to_the_next_source_and_the_legs_still_sum_to_the_request(
    funded: httpx.Client, demo_database_url: str
) -> None:
    behave(funded, "stripe", mode="decline")
    r = withdraw(funded, 1, "80.00", "USD")
    assert r.status_code == 201, r.text
    parent = r.json()["transaction_id"]
    wait_for_status(funded, parent, "completed")
    legs = legs_of(funded, parent)
    assert legs[0] == ("stripe", "40.00", "failed")
    alive = [leg for leg in legs if leg[2] != "failed"]
    assert {leg[0] for leg in alive} == {"paypal"}
    assert sum(float(leg[1]) for leg in alive) == 80.0
    # paypal's own share (60.00) first, the rest by the normal route (paypal first in the US).
    assert [leg[1] for leg in legs[1:]] == ["20.00", "20.00", "40.00"]
    assert available(funded) == "20.00"
    check_invariants(demo_database_url, str(funded.base_url))


def test_earlier_returns_count_against_a_source(
    funded: httpx.Client, demo_database_url: str
) -> None:
    first = withdraw(funded, 1, "30.00", "USD")
    wait_for_status(funded, first.json()["transaction_id"], "completed")
    assert legs_of(funded, first.json()["transaction_id"]) == [("stripe", "30.00", "completed")]
    second = withdraw(funded, 1, "30.00", "USD")
    wait_for_status(funded, second.json()["transaction_id"], "completed")
    assert legs_of(funded, second.json()["transaction_id"]) == [
        ("stripe", "10.00", "completed"),
        ("paypal", "20.00", "completed"),
    ]
    check_invariants(demo_database_url, str(funded.base_url))


def test_with_the_switch_off_a_withdrawal_has_no_legs(
    api: httpx.Client, demo_database_url: str
) -> None:
    funded_through(api, "stripe", "40.00")
    r = withdraw(api, 1, "30.00", "USD")
    assert r.status_code == 201, r.text
    body = wait_for_status(api, r.json()["transaction_id"], "completed")
    assert body["gateway"] == "paypal"
    assert body.get("legs") is None
