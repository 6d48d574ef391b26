"""Failover by outcome class, retries, breakers and operator switches, over real HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.support.api import (
    ADMIN,
    CLIENT,
    attempts,
    behave,
    deposit,
    sandbox_requests,
    serve_api,
)


@pytest.fixture
def api(demo_database_url: str) -> Iterator[httpx.Client]:
    with serve_api(
        demo_database_url, PAYMENTS_BREAKER_FAIL_MAX="3", PAYMENTS_BREAKER_RESET_S="1"
    ) as client:
        yield client


def gateway(api: httpx.Client, gateway_id: str) -> dict[str, object]:
    gateways = api.get("/gateways", headers=ADMIN).json()
    return next(g for g in gateways if g["id"] == gateway_id)


def test_paypal_down_is_served_by_stripe_in_the_same_request(api: httpx.Client) -> None:
    behave(api, "paypal", mode="down")
    r = deposit(api, 1, "10.00", "USD")
    assert r.status_code == 201, r.text
    assert r.json()["gateway"] == "stripe"
    assert attempts(api, r.json()["transaction_id"]) == [
        ("paypal", "not_sent"),
        ("stripe", "accepted"),
    ]


def test_paypal_error_is_retried_then_stripe(api: httpx.Client) -> None:
    behave(api, "paypal", mode="error")
    r = deposit(api, 1, "10.00", "USD")
    assert r.status_code == 201, r.text
    assert r.json()["gateway"] == "stripe"
    detail = api.get(f"/transactions/{r.json()['transaction_id']}", headers=CLIENT).json()
    first, second = detail["attempts"]
    assert (first["gateway"], first["outcome"], first["tries"]) == ("paypal", "transient", 3)
    assert (second["gateway"], second["outcome"]) == ("stripe", "accepted")
    assert sandbox_requests(api, "paypal") == 3  # one reference, three tries
    assert first["reference"] == f"{r.json()['transaction_id']}:1"


def test_paypal_decline_is_402_without_fallback(api: httpx.Client) -> None:
    behave(api, "paypal", mode="decline")
    r = deposit(api, 1, "10.00", "USD")
    assert r.status_code == 402
    assert attempts(api, r.json()["transaction_id"]) == [("paypal", "declined")]
    assert sandbox_requests(api, "stripe") == 0


def test_all_down_is_503_with_the_failed_transaction(api: httpx.Client) -> None:
    for gid in ("paypal", "stripe", "adyen"):
        behave(api, gid, mode="down")
    r = deposit(api, 1, "10.00", "USD")
    assert r.status_code == 503
    tx = api.get(f"/transactions/{r.json()['transaction_id']}", headers=CLIENT).json()
    assert tx["status"] == "failed"
    # Stripe's 503 is an api_error, safe to retry under its Idempotency-Key: transient.
    assert [(a["gateway"], a["outcome"]) for a in tx["attempts"]] == [
        ("paypal", "not_sent"),
        ("stripe", "transient"),
        ("adyen", "not_sent"),
    ]


def test_a_deposit_timeout_falls_back(api: httpx.Client) -> None:
    behave(api, "paypal", mode="timeout")
    r = deposit(api, 1, "10.00", "USD")
    assert r.status_code == 201, r.text
    assert attempts(api, r.json()["transaction_id"]) == [
        ("paypal", "ambiguous"),
        ("stripe", "accepted"),
    ]


def test_the_breaker_opens_skips_paypal_and_recovers_with_a_probe(api: httpx.Client) -> None:
    behave(api, "paypal", mode="error")
    first = deposit(api, 1, "1.00", "USD")
    assert first.json()["gateway"] == "stripe"
    assert gateway(api, "paypal")["breaker"] == "open"
    calls = sandbox_requests(api, "paypal")

    # While open, paypal gets no calls: stripe serves, paypal is not even tried first.
    for _ in range(3):
        r = deposit(api, 1, "1.00", "USD")
        assert r.json()["gateway"] == "stripe"
        assert attempts(api, r.json()["transaction_id"])[0][0] == "stripe"
    assert sandbox_requests(api, "paypal") == calls

    # Recovered and the reset timeout passed: the trial call goes through and closes it.
    behave(api, "paypal", mode="ok")
    time.sleep(1.1)
    r = deposit(api, 1, "1.00", "USD")
    assert r.json()["gateway"] == "paypal"
    assert sandbox_requests(api, "paypal") == calls + 1
    assert gateway(api, "paypal")["breaker"] == "closed"


def test_gateways_report_breaker_success_rate_and_latency(api: httpx.Client) -> None:
    deposit(api, 1, "1.00", "USD")
    paypal = gateway(api, "paypal")
    assert paypal["admin_status"] == "up"
    assert paypal["format"] == "json"
    assert paypal["breaker"] == "closed"
    assert paypal["success_rate"] == 1.0
    assert paypal["recent_calls"] == 1
    assert isinstance(paypal["latency_ms_p50"], int)
    assert gateway(api, "adyen")["format"] == "soap"


def test_operator_switches_stripe_down_for_gb_then_up(api: httpx.Client) -> None:
    r = api.put("/gateways/stripe/status", json={"status": "down"}, headers=ADMIN)
    assert (r.status_code, r.json()["admin_status"]) == (200, "down")
    assert deposit(api, 2, "5.00", "GBP").json()["gateway"] == "paypal"
    assert sandbox_requests(api, "stripe") == 0
    api.put("/gateways/stripe/status", json={"status": "up"}, headers=ADMIN)
    assert deposit(api, 2, "5.00", "GBP").json()["gateway"] == "stripe"


def test_operator_status_is_validated(api: httpx.Client) -> None:
    assert (
        api.put("/gateways/nope/status", json={"status": "down"}, headers=ADMIN).status_code == 404
    )
    assert (
        api.put("/gateways/paypal/status", json={"status": "off"}, headers=ADMIN).status_code == 400
    )
    assert (
        api.put("/gateways/paypal/status", json={"status": "down"}, headers=CLIENT).status_code
        == 403
    )
    assert gateway(api, "paypal")["admin_status"] == "up"


def test_priorities_can_be_read_and_reordered(api: httpx.Client) -> None:
    assert api.get("/countries/US/gateways", headers=ADMIN).json() == [
        {"gateway_id": "paypal", "priority": 1},
        {"gateway_id": "stripe", "priority": 2},
        {"gateway_id": "adyen", "priority": 3},
    ]
    new = [{"gateway_id": "stripe", "priority": 1}, {"gateway_id": "paypal", "priority": 2}]
    r = api.put("/countries/US/gateways", json=new, headers=ADMIN)
    assert (r.status_code, r.json()) == (200, new)
    assert deposit(api, 1, "1.00", "USD").json()["gateway"] == "stripe"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ([{"gateway_id": "nope", "priority": 1}], 422),
        ([{"gateway_id": "paypal", "priority": 1}, {"gateway_id": "stripe", "priority": 1}], 422),
        ([{"gateway_id": "paypal", "priority": 1}, {"gateway_id": "paypal", "priority": 2}], 422),
        ([{"gateway_id": "paypal", "priority": 0}], 400),
        ({"gateway_id": "paypal"}, 400),
    ],
)
def test_bad_priority_lists_change_nothing(api: httpx.Client, body: object, status: int) -> None:
    before = api.get("/countries/US/gateways", headers=ADMIN).json()
    assert api.put("/countries/US/gateways", json=body, headers=ADMIN).status_code == status
    assert api.get("/countries/US/gateways", headers=ADMIN).json() == before


def test_unknown_country_priorities_are_404(api: httpx.Client) -> None:
    assert api.get("/countries/ZZ/gateways", headers=ADMIN).status_code == 404
    assert api.put("/countries/ZZ/gateways", json=[], headers=ADMIN).status_code == 404


def test_de_deposit_goes_to_the_soap_gateway(api: httpx.Client) -> None:
    r = deposit(api, 3, "12.50", "EUR")
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["gateway"], body["status"]) == ("adyen", "processing")
    assert body["reference_id"].startswith("AD-")
    ledger = api.get("/sandbox/adyen/ledger", headers=ADMIN).json()
    assert [(p["amount"], p["currency"]) for p in ledger] == [("12.50", "EUR")]


def test_health_checker_marks_a_down_gateway_unhealthy(demo_database_url: str) -> None:
    with serve_api(demo_database_url, PAYMENTS_HEALTH_INTERVAL_S="0.1") as api:
        behave(api, "paypal", mode="down")
        deadline = time.monotonic() + 5
        while (gateway(api, "paypal")["health"], gateway(api, "stripe")["health"]) != (
            "unhealthy",
            "healthy",
        ):
            assert time.monotonic() < deadline, "health never settled"
            time.sleep(0.05)
        # Unhealthy gateways go to the back of the line.
        assert deposit(api, 1, "1.00", "USD").json()["gateway"] == "stripe"
        assert sandbox_requests(api, "paypal") == 0
