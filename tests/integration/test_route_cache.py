"""Every process drops its route cache the moment routing changes anywhere."""

from __future__ import annotations

import time

import httpx
import psycopg

from tests.support.api import ADMIN, CLIENT, deposit, serve_api


def gateway_of(api: httpx.Client, tx_id: str) -> str:
    gateway: str = api.get(f"/transactions/{tx_id}", headers=CLIENT).json()["gateway"]
    return gateway


def routed_to(api: httpx.Client, user_id: int, currency: str) -> str:
    answer = deposit(api, user_id, "3.00", currency)
    assert answer.status_code == 201, answer.text
    return gateway_of(api, answer.json()["transaction_id"])


def eventually_routed_to(api: httpx.Client, user_id: int, currency: str, gateway: str) -> float:
    """Seconds until a deposit of this user lands at ``gateway`` (fails after 2 s)."""
    started = time.monotonic()
    while (seen := routed_to(api, user_id, currency)) != gateway:
        assert time.monotonic() - started < 2, f"still routed to {seen}"
        time.sleep(0.02)
    return time.monotonic() - started


def test_a_user_moved_by_another_process_is_routed_by_the_new_country_at_once(
    demo_database_url: str,
) -> None:
    with serve_api(demo_database_url) as a, serve_api(demo_database_url) as b:
        assert routed_to(b, 1, "USD") == "paypal"  # US: paypal first; b has it cached now
        assert a.put("/users/1", json={"country": "GB"}, headers=ADMIN).status_code == 200
        assert eventually_routed_to(b, 1, "USD", "stripe") < 1  # GB: stripe first


def test_a_route_changed_by_hand_in_sql_reaches_every_process(demo_database_url: str) -> None:
    with serve_api(demo_database_url) as api:
        assert routed_to(api, 1, "USD") == "paypal"
        with psycopg.connect(demo_database_url) as conn:  # as docs/adding-a-gateway.md does
            conn.execute(
                "UPDATE gateway_countries SET priority = priority + 10"
                " WHERE country_code = 'US' AND gateway_id = 'paypal'"
            )
        assert eventually_routed_to(api, 1, "USD", "stripe") < 1
