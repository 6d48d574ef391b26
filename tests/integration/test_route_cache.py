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


def test_a_routing_document_saved_by_another_process_routes_at_once(
    demo_database_url: str,
) -> None:
    doc = {"strategy": "priority", "tiers": [[{"gateway_id": "adyen"}], [{"gateway_id": "paypal"}]]}
    with serve_api(demo_database_url) as a, serve_api(demo_database_url) as b:
        assert routed_to(b, 1, "USD") == "paypal"  # b has US cached now
        assert a.put("/countries/US/routing", json=doc, headers=ADMIN).status_code == 200
        assert eventually_routed_to(b, 1, "USD", "adyen") < 1


def test_success_windows_recorded_by_one_process_reach_the_others_within_seconds(
    demo_database_url: str,
) -> None:
    with (
        serve_api(demo_database_url, PAYMENTS_ROUTING_STATS_REFRESH_S="0.5") as a,
        serve_api(demo_database_url, PAYMENTS_ROUTING_STATS_REFRESH_S="0.5") as b,
    ):
        for _ in range(5):
            routed_to(a, 1, "USD")
        started = time.monotonic()
        while True:
            paypal = next(
                g for g in b.get("/gateways", headers=ADMIN).json() if g["id"] == "paypal"
            )
            windows = {w["country"]: w for w in paypal["routing"]}
            if windows.get("US", {}).get("attempts") == 5:
                break
            assert time.monotonic() - started < 3, windows
            time.sleep(0.1)
        assert windows["US"]["success_rate"] == 1.0
