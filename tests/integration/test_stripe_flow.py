"""The demo's stripe gateway speaks Stripe's API (stripe_api), through the sandbox's emulation.

GB deposits go to stripe first: the emulation creates a PaymentIntent and
sends its signed ``payment_intent.succeeded`` event, which completes the
deposit. Events built and signed with the stripe SDK do the same; a tampered
one gets 401, one with another amount is flagged and never applied. Faults
land in their outcome classes and fail over as for every family, and
withdrawals skip stripe, whose family pays no one out.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
import stripe

from tests.support.api import (
    ADMIN,
    CLIENT,
    WEBHOOK_SECRETS,
    attempts,
    behave,
    check_invariants,
    deposit,
    serve_api,
    wait_for_status,
    withdraw,
)

GB_USER = 2  # demo routing: GB tries stripe, then paypal, then adyen


@pytest.fixture
def api(demo_database_url: str) -> Iterator[httpx.Client]:
    with serve_api(demo_database_url) as client:
        yield client


def signed_event(tx: dict[str, Any], **changes: Any) -> tuple[bytes, dict[str, str]]:
    """A payment_intent.succeeded event for ``tx``, built and signed with the stripe SDK."""
    intent = {
        "id": tx["reference_id"],
        "object": "payment_intent",
        "amount": 1250,
        "currency": "gbp",
        "status": "succeeded",
        "metadata": {"transaction_id": tx["transaction_id"]},
        **changes,
    }
    event = stripe.Event.construct_from(
        {
            "id": f"evt_sdk_{tx['transaction_id'][:8]}_{changes.get('amount', 0)}",
            "object": "event",
            "type": "payment_intent.succeeded",
            "data": {"object": intent},
        },
        stripe.api_key,
    )
    body = json.dumps(event.to_dict()).encode()
    header = stripe.WebhookSignature.generate_signature_header(
        body.decode(), WEBHOOK_SECRETS["stripe"], int(time.time())
    )
    return body, {"Content-Type": "application/json; charset=utf-8", "Stripe-Signature": header}


def waiting_deposit(api: httpx.Client) -> dict[str, Any]:
    """A GB deposit the emulation accepted, its own event held back for a long while."""
    behave(api, "stripe", callback_delay_ms=600_000)
    body: dict[str, Any] = deposit(api, GB_USER, "12.50", "GBP").json()
    assert (body["status"], body["gateway"]) == ("processing", "stripe"), body
    return body


def test_a_gb_deposit_goes_through_the_stripe_emulation_and_completes(
    api: httpx.Client, demo_database_url: str
) -> None:
    r = deposit(api, GB_USER, "12.50", "GBP")

    assert r.status_code == 201, r.text
    body = r.json()
    assert body["gateway"] == "stripe"
    assert body["reference_id"].startswith("pi_")
    assert body["client_secret"].startswith(f"{body['reference_id']}_secret_")
    done = wait_for_status(api, body["transaction_id"], "completed")
    assert done["reference_id"] == body["reference_id"]
    balances = api.get(f"/users/{GB_USER}/balances", headers=CLIENT).json()
    assert balances == [
        {"currency": "GBP", "available": "12.50", "withdrawable": "12.50", "held": "0.00"}
    ]
    check_invariants(demo_database_url, str(api.base_url))


def test_an_event_built_and_signed_with_the_stripe_sdk_completes_a_deposit(
    api: httpx.Client, demo_database_url: str
) -> None:
    tx = waiting_deposit(api)
    body, headers = signed_event(tx)
    # What Stripe's own SDK verifies, we verify.
    stripe.Webhook.construct_event(body, headers["Stripe-Signature"], WEBHOOK_SECRETS["stripe"])

    r = api.post("/callback/stripe", content=body, headers=headers)

    assert r.status_code == 200, r.text
    wait_for_status(api, tx["transaction_id"], "completed")
    check_invariants(demo_database_url, None)


def test_a_tampered_event_gets_401_and_changes_nothing(
    api: httpx.Client, demo_database_url: str
) -> None:
    tx = waiting_deposit(api)
    body, headers = signed_event(tx)

    r = api.post("/callback/stripe", content=body.replace(b"1250", b"9250"), headers=headers)

    assert r.status_code == 401, r.text
    with psycopg.connect(demo_database_url) as conn:
        row = conn.execute("SELECT count(*) FROM callback_inbox").fetchone()
    assert row == (0,)
    assert api.get(f"/transactions/{tx['transaction_id']}", headers=CLIENT).json()["status"] == (
        "processing"
    )


def test_an_event_with_another_amount_is_flagged_not_applied(
    api: httpx.Client, demo_database_url: str
) -> None:
    tx = waiting_deposit(api)
    body, headers = signed_event(tx, amount=1)

    assert api.post("/callback/stripe", content=body, headers=headers).status_code == 200

    deadline = time.monotonic() + 5
    while not (issues := _issues_of(api, tx["transaction_id"])):
        assert time.monotonic() < deadline, "never flagged"
        time.sleep(0.05)
    assert "amount mismatch" in issues[0]["detail"]
    time.sleep(0.3)  # give any (wrong) application time to happen
    assert api.get(f"/transactions/{tx['transaction_id']}", headers=CLIENT).json()["status"] == (
        "processing"
    )
    assert api.get(f"/users/{GB_USER}/balances", headers=CLIENT).json() == []


def _issues_of(api: httpx.Client, tx_id: str) -> list[dict[str, Any]]:
    issues = api.get("/reconciliation/issues", headers=ADMIN).json()
    return [i for i in issues if i["transaction_id"] == tx_id]


@pytest.mark.parametrize(
    ("mode", "outcome"),
    [
        ("error", "transient"),
        ("rate_limit", "transient"),
        ("down", "transient"),
        ("timeout", "ambiguous"),
    ],
)
def test_emulated_faults_land_in_their_class_and_fail_over_to_paypal(
    api: httpx.Client, mode: str, outcome: str
) -> None:
    behave(api, "stripe", mode=mode)

    r = deposit(api, GB_USER, "3.00", "GBP")

    assert r.status_code == 201, r.text
    assert r.json()["gateway"] == "paypal"
    assert attempts(api, r.json()["transaction_id"]) == [
        ("stripe", outcome),
        ("paypal", "accepted"),
    ]


def test_an_emulated_decline_is_402_and_no_other_gateway_is_tried(api: httpx.Client) -> None:
    behave(api, "stripe", mode="decline")

    r = deposit(api, GB_USER, "3.00", "GBP")

    assert r.status_code == 402, r.text
    [tx] = api.get(f"/transactions?user_id={GB_USER}", headers=CLIENT).json()["items"]
    assert (tx["status"], attempts(api, tx["transaction_id"])) == (
        "failed",
        [("stripe", "declined")],
    )


def test_a_refund_of_a_stripe_deposit_completes_through_the_refund_event(
    api: httpx.Client, demo_database_url: str
) -> None:
    paid = deposit(api, GB_USER, "12.50", "GBP").json()
    wait_for_status(api, paid["transaction_id"], "completed")

    r = api.post(
        f"/transactions/{paid['transaction_id']}/refunds", json={"amount": "5.00"}, headers=CLIENT
    )

    assert r.status_code == 201, r.text
    refund = r.json()
    assert refund["reference_id"].startswith("re_")
    wait_for_status(api, refund["transaction_id"], "completed")
    balances = api.get(f"/users/{GB_USER}/balances", headers=CLIENT).json()
    assert balances == [
        {"currency": "GBP", "available": "7.50", "withdrawable": "7.50", "held": "0.00"}
    ]
    check_invariants(demo_database_url, str(api.base_url))


def test_withdrawals_skip_stripe_whose_family_pays_no_one_out(api: httpx.Client) -> None:
    paid = deposit(api, GB_USER, "20.00", "GBP").json()
    wait_for_status(api, paid["transaction_id"], "completed")

    r = withdraw(api, GB_USER, "5.00", "GBP")

    assert r.status_code == 201, r.text
    assert r.json()["gateway"] == "paypal"
    assert [gateway for gateway, _ in attempts(api, r.json()["transaction_id"])] == ["paypal"]


def test_a_withdrawal_where_only_stripe_serves_is_refused_clearly(api: httpx.Client) -> None:
    only_stripe = [{"gateway_id": "stripe", "priority": 1}]
    assert api.put("/countries/GB/gateways", json=only_stripe, headers=ADMIN).status_code == 200
    paid = deposit(api, GB_USER, "20.00", "GBP").json()
    wait_for_status(api, paid["transaction_id"], "completed")

    r = withdraw(api, GB_USER, "5.00", "GBP")

    assert r.status_code == 422, r.text
    assert r.json()["type"].endswith("no-eligible-gateway")
    balances = api.get(f"/users/{GB_USER}/balances", headers=CLIENT).json()
    assert balances == [
        {"currency": "GBP", "available": "20.00", "withdrawable": "20.00", "held": "0.00"}
    ]
