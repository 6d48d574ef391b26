"""A callback settles only the attempt the gateway accepted (CONTRACT: callbacks must match).

Validly signed callbacks naming another gateway reference, amount, currency or
merchant account are stored, answered 2xx, flagged in GET /reconciliation/issues
and never applied: the transaction stays processing and the ledger untouched.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest

from adapters.gateways.signing_json import sign_json
from adapters.gateways.signing_soap import NotificationItem, sign_adyen_item
from adapters.gateways.soap_notification import build_notification
from tests.support.api import ADMIN, CLIENT, WEBHOOK_SECRETS, behave, deposit, serve_api


@pytest.fixture
def api(demo_database_url: str) -> Iterator[httpx.Client]:
    with serve_api(demo_database_url) as client:
        yield client


Tx = dict[str, Any]  # a transaction as the API answers it

# Demo routing: user 1 (US) pays at paypal, user 3 (DE) at adyen.
GATEWAY_OF = {1: "paypal", 3: "adyen"}


def processing_deposit(api: httpx.Client, user_id: int, amount: str, currency: str) -> Tx:
    """A deposit the sandbox accepted and keeps its own callback for (a long while)."""
    behave(api, GATEWAY_OF[user_id], callback_delay_ms=600_000)
    body: Tx = deposit(api, user_id, amount, currency).json()
    assert (body["status"], body["gateway"]) == ("processing", GATEWAY_OF[user_id]), body
    assert body["reference_id"], body
    return body


def post_json(api: httpx.Client, gateway: str, fields: dict[str, str]) -> httpx.Response:
    body = json.dumps(fields).encode()
    signature = sign_json(body, [WEBHOOK_SECRETS[gateway]], int(time.time()))
    return api.post(
        f"/callback/{gateway}",
        content=body,
        headers={"Content-Type": "application/json", "X-Signature": signature},
    )


def post_adyen(api: httpx.Client, tx: Tx, **changes: object) -> httpx.Response:
    fields: dict[str, object] = {
        "psp_reference": tx["reference_id"],
        "original_reference": "",
        "merchant_account": "PaymentsPlatform",
        "merchant_reference": tx["transaction_id"],
        "value": 1250,
        "currency": "EUR",
        "event_code": "AUTHORISATION",
        "success": True,
        **changes,
    }
    item = sign_adyen_item(NotificationItem(**fields), WEBHOOK_SECRETS["adyen"])  # type: ignore[arg-type]
    body = build_notification([item])
    return api.post("/callback/adyen", content=body, headers={"Content-Type": "text/xml"})


def inbox_status(database_url: str, event_id: str, *, timeout_s: float = 5.0) -> str:
    """The inbox row's status once it is no longer waiting to be applied."""
    deadline = time.monotonic() + timeout_s
    while True:
        with psycopg.connect(database_url) as conn:
            row = conn.execute(
                "SELECT status FROM callback_inbox WHERE event_id = %s", (event_id,)
            ).fetchone()
        if row is not None and row[0] != "received":
            return str(row[0])
        assert time.monotonic() < deadline, f"{event_id} still {row}"
        time.sleep(0.05)


def journals(database_url: str, tx_id: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM ledger_journals WHERE transaction_id = %s", (tx_id,)
        ).fetchone()
    assert row is not None
    return int(row[0])


def status_of(api: httpx.Client, tx_id: str) -> str:
    return str(api.get(f"/transactions/{tx_id}", headers=CLIENT).json()["status"])


def assert_flagged_and_untouched(
    api: httpx.Client,
    database_url: str,
    tx: Tx,
    event_id: str,
    why: str,
) -> None:
    tx_id = tx["transaction_id"]
    assert inbox_status(database_url, event_id) == "flagged"
    issues = api.get("/reconciliation/issues", headers=ADMIN).json()
    [issue] = [i for i in issues if i["transaction_id"] == tx_id]
    assert issue["kind"] == f"callback:{event_id}"
    assert why in issue["detail"]
    time.sleep(0.3)  # give any (wrong) application time to happen
    assert status_of(api, tx_id) == "processing"
    assert journals(database_url, tx_id) == 0
    assert api.get(f"/users/{tx['user_id']}/balances", headers=CLIENT).json() == []


@pytest.mark.parametrize(
    ("extra", "why"),
    [
        ({"reference_id": "PA-9999999999"}, "reference"),
        ({"amount": "99.00", "currency": "USD"}, "amount mismatch"),
        ({"amount": "10.00", "currency": "EUR"}, "amount mismatch"),
    ],
    ids=["another_reference", "another_amount", "another_currency"],
)
def test_a_signed_json_callback_that_names_something_else_is_flagged_not_applied(
    api: httpx.Client, demo_database_url: str, extra: dict[str, str], why: str
) -> None:
    tx = processing_deposit(api, 1, "10.00", "USD")
    fields = {
        "event_id": "evt_other",
        "transaction_id": tx["transaction_id"],
        "status": "completed",
        "reference_id": tx["reference_id"],
        **extra,
    }
    r = post_json(api, tx["gateway"], fields)
    assert (r.status_code, r.json()["new"]) == (200, 1)
    assert_flagged_and_untouched(api, demo_database_url, tx, "evt_other", why)


def test_an_adyen_item_for_another_merchant_account_is_flagged_not_applied(
    api: httpx.Client, demo_database_url: str
) -> None:
    tx = processing_deposit(api, 3, "12.50", "EUR")
    assert tx["gateway"] == "adyen"
    r = post_adyen(api, tx, merchant_account="SomeoneElsesShop")
    assert (r.status_code, r.content) == (200, b"[accepted]")
    event_id = f"{tx['reference_id']}:AUTHORISATION:true"
    assert_flagged_and_untouched(api, demo_database_url, tx, event_id, "SomeoneElsesShop")


def test_an_adyen_item_for_another_psp_reference_is_flagged_not_applied(
    api: httpx.Client, demo_database_url: str
) -> None:
    tx = processing_deposit(api, 3, "12.50", "EUR")
    r = post_adyen(api, tx, psp_reference="8816178952380553")
    assert (r.status_code, r.content) == (200, b"[accepted]")
    event_id = "8816178952380553:AUTHORISATION:true"
    assert_flagged_and_untouched(api, demo_database_url, tx, event_id, "reference")


@pytest.mark.parametrize(
    "extra", [{"amount": "10.00", "currency": "USD"}, {}], ids=["stated", "not_stated"]
)
def test_a_callback_naming_the_accepted_attempt_settles(
    api: httpx.Client, demo_database_url: str, extra: dict[str, str]
) -> None:
    tx = processing_deposit(api, 1, "10.00", "USD")
    fields = {
        "event_id": "evt_ours",
        "transaction_id": tx["transaction_id"],
        "status": "completed",
        "reference_id": tx["reference_id"],
        **extra,
    }
    assert post_json(api, tx["gateway"], fields).status_code == 200
    assert inbox_status(demo_database_url, "evt_ours") == "applied"
    assert status_of(api, tx["transaction_id"]) == "completed"
    assert journals(demo_database_url, tx["transaction_id"]) == 1
    balances = api.get("/users/1/balances", headers=CLIENT).json()
    assert balances == [
        {"currency": "USD", "available": "10.00", "withdrawable": "10.00", "held": "0.00"}
    ]
    assert api.get("/reconciliation/issues", headers=ADMIN).json() == []
