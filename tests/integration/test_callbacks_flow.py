"""Signed callbacks end to end: sandbox PSP -> /callback -> inbox -> relay -> applied."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import psycopg
import pytest

from adapters.gateways.signing_json import sign_json
from adapters.gateways.signing_soap import NotificationItem, sign_adyen_item
from adapters.gateways.soap_notification import build_notification
from tests.support.api import (
    ADMIN,
    CLIENT,
    WEBHOOK_SECRETS,
    behave,
    deposit,
    serve_api,
    settle_directly,
    wait_for_status,
    withdraw,
)


@pytest.fixture
def api(demo_database_url: str) -> Iterator[httpx.Client]:
    with serve_api(demo_database_url) as client:
        yield client


def balances(api: httpx.Client, user_id: int) -> list[dict[str, str]]:
    body: list[dict[str, str]] = api.get(f"/users/{user_id}/balances", headers=CLIENT).json()
    return body


def inbox(database_url: str) -> list[tuple[str, str, str]]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT gateway_id, event_id, status FROM callback_inbox ORDER BY id"
        ).fetchall()
    return [(r[0], r[1], r[2]) for r in rows]


def json_callback(
    tx_id: str, status: str = "completed", event_id: str = "evt_it", reference: str = "X"
) -> bytes:
    return json.dumps(
        {"event_id": event_id, "transaction_id": tx_id, "status": status, "reference_id": reference}
    ).encode()


def post_json(
    api: httpx.Client, gateway: str, body: bytes, *, at: float | None = None, secret: str = ""
) -> httpx.Response:
    signature = sign_json(body, [secret or WEBHOOK_SECRETS[gateway]], int(at or time.time()))
    return api.post(
        f"/callback/{gateway}",
        content=body,
        headers={"Content-Type": "application/json", "X-Signature": signature},
    )


def quiet(api: httpx.Client, gateway: str) -> None:
    """The sandbox takes payments but keeps its callback to itself (for a long while)."""
    behave(api, gateway, callback_delay_ms=600_000)


def test_deposit_completes_through_the_sandbox_callback(api: httpx.Client) -> None:
    started = time.monotonic()
    tx = deposit(api, 1, "100.00", "USD").json()
    done = wait_for_status(api, tx["transaction_id"], "completed", timeout_s=3)
    assert time.monotonic() - started < 2.5
    assert done["version"] == 3
    assert balances(api, 1) == [
        {"currency": "USD", "available": "100.00", "withdrawable": "100.00", "held": "0.00"}
    ]


def test_soap_deposit_completes_through_an_adyen_notification(
    api: httpx.Client, demo_database_url: str
) -> None:
    tx = deposit(api, 3, "12.50", "EUR").json()
    assert tx["gateway"] == "adyen"
    wait_for_status(api, tx["transaction_id"], "completed", timeout_s=3)
    assert balances(api, 3) == [
        {"currency": "EUR", "available": "12.50", "withdrawable": "12.50", "held": "0.00"}
    ]
    assert [(g, s) for g, _, s in inbox(demo_database_url)] == [("adyen", "applied")]


def test_a_failed_deposit_credits_nothing(api: httpx.Client) -> None:
    behave(api, "paypal", final_status="failed")
    tx = deposit(api, 1, "10.00", "USD").json()
    wait_for_status(api, tx["transaction_id"], "failed")
    assert balances(api, 1) == []


def test_withdrawal_completes_and_pays_the_hold_out(
    api: httpx.Client, demo_database_url: str
) -> None:
    quiet(api, "paypal")
    funding = deposit(api, 1, "100.00", "USD").json()
    settle_directly(demo_database_url, funding["transaction_id"], "completed")
    behave(api, "paypal", callback_delay_ms=50)
    tx = withdraw(api, 1, "60.00", "USD").json()
    wait_for_status(api, tx["transaction_id"], "completed")
    assert balances(api, 1) == [
        {"currency": "USD", "available": "40.00", "withdrawable": "40.00", "held": "0.00"}
    ]


def test_a_failed_withdrawal_releases_the_hold(api: httpx.Client, demo_database_url: str) -> None:
    quiet(api, "paypal")
    funding = deposit(api, 1, "100.00", "USD").json()
    settle_directly(demo_database_url, funding["transaction_id"], "completed")
    behave(api, "paypal", callback_delay_ms=50, final_status="failed")
    tx = withdraw(api, 1, "60.00", "USD").json()
    wait_for_status(api, tx["transaction_id"], "failed")
    assert balances(api, 1) == [
        {"currency": "USD", "available": "100.00", "withdrawable": "100.00", "held": "0.00"}
    ]


def test_the_same_callback_five_times_is_applied_once(
    api: httpx.Client, demo_database_url: str
) -> None:
    quiet(api, "paypal")
    tx = deposit(api, 1, "10.00", "USD").json()
    body = json_callback(tx["transaction_id"], reference=tx["reference_id"])
    answers = [post_json(api, "paypal", body) for _ in range(5)]
    assert [a.status_code for a in answers] == [200] * 5
    assert [a.json()["new"] for a in answers] == [1, 0, 0, 0, 0]
    wait_for_status(api, tx["transaction_id"], "completed")
    time.sleep(0.5)  # give any (wrong) second application time to happen
    assert balances(api, 1) == [
        {"currency": "USD", "available": "10.00", "withdrawable": "10.00", "held": "0.00"}
    ]
    assert inbox(demo_database_url) == [("paypal", "evt_it", "applied")]


@pytest.mark.parametrize(
    ("case", "status"),
    [("forged", 401), ("stale", 401), ("future", 401), ("unsigned", 401), ("malformed", 400)],
)
def test_bad_json_callbacks_are_refused_and_change_nothing(
    api: httpx.Client, demo_database_url: str, case: str, status: int
) -> None:
    quiet(api, "paypal")
    tx = deposit(api, 1, "10.00", "USD").json()
    body = json_callback(tx["transaction_id"])
    if case == "forged":
        r = post_json(api, "paypal", body, secret="whsec_attacker")
    elif case == "stale":
        r = post_json(api, "paypal", body, at=time.time() - 3600)  # an old callback replayed
    elif case == "future":
        r = post_json(api, "paypal", body, at=time.time() + 3600)
    elif case == "unsigned":
        r = api.post("/callback/paypal", content=body, headers={"Content-Type": "application/json"})
    else:
        r = post_json(api, "paypal", b'{"event_id": "e", "transaction_id": ')
    assert r.status_code == status
    assert r.headers["content-type"].startswith("application/problem+json")
    assert inbox(demo_database_url) == []
    time.sleep(0.3)
    got = api.get(f"/transactions/{tx['transaction_id']}", headers=CLIENT).json()
    assert got["status"] == "processing"


def test_unknown_gateway_is_404(api: httpx.Client) -> None:
    r = post_json(api, "paypal", json_callback("x")).request
    assert api.post("/callback/nope", content=r.content, headers=dict(r.headers)).status_code == 404


def adyen_notification(
    tx_id: str,
    value: int,
    *,
    key: str = "",
    success: bool = True,
    psp_reference: str = "8816178952380553",
) -> bytes:
    item = NotificationItem(
        psp_reference=psp_reference,
        original_reference="",
        merchant_account="PaymentsPlatform",
        merchant_reference=tx_id,
        value=value,
        currency="EUR",
        event_code="AUTHORISATION",
        success=success,
    )
    return build_notification([sign_adyen_item(item, key or WEBHOOK_SECRETS["adyen"])])


def test_adyen_notifications_are_accepted_verified_and_deduplicated(
    api: httpx.Client, demo_database_url: str
) -> None:
    quiet(api, "adyen")
    tx = deposit(api, 3, "12.50", "EUR").json()
    body = adyen_notification(tx["transaction_id"], 1250, psp_reference=tx["reference_id"])
    for _ in range(3):
        r = api.post("/callback/adyen", content=body, headers={"Content-Type": "text/xml"})
        assert (r.status_code, r.content) == (200, b"[accepted]")
    wait_for_status(api, tx["transaction_id"], "completed")
    assert balances(api, 3) == [
        {"currency": "EUR", "available": "12.50", "withdrawable": "12.50", "held": "0.00"}
    ]
    assert len(inbox(demo_database_url)) == 1


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"<soap:Envelope", 400),
        (b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>", 400),
        ("forged", 401),
    ],
)
def test_bad_adyen_notifications_are_refused(
    api: httpx.Client, demo_database_url: str, body: bytes | str, status: int
) -> None:
    quiet(api, "adyen")
    tx = deposit(api, 3, "12.50", "EUR").json()
    if body == "forged":
        body = adyen_notification(tx["transaction_id"], 1250, key="00" * 32)
    assert isinstance(body, bytes)
    r = api.post("/callback/adyen", content=body, headers={"Content-Type": "text/xml"})
    assert r.status_code == status
    assert inbox(demo_database_url) == []


def test_an_amount_mismatch_is_flagged_not_applied(
    api: httpx.Client, demo_database_url: str
) -> None:
    quiet(api, "adyen")
    tx = deposit(api, 3, "12.50", "EUR").json()
    body = adyen_notification(tx["transaction_id"], 99999, psp_reference=tx["reference_id"])
    assert api.post("/callback/adyen", content=body).status_code == 200
    deadline = time.monotonic() + 3
    while inbox(demo_database_url)[0][2] != "flagged":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    got = api.get(f"/transactions/{tx['transaction_id']}", headers=CLIENT).json()
    assert got["status"] == "processing"
    assert balances(api, 3) == []


def test_a_contradicting_callback_after_completion_is_flagged(
    api: httpx.Client, demo_database_url: str
) -> None:
    tx = deposit(api, 1, "10.00", "USD").json()
    wait_for_status(api, tx["transaction_id"], "completed")
    late = json_callback(tx["transaction_id"], "failed", "evt_late", reference=tx["reference_id"])
    r = post_json(api, "paypal", late)
    assert r.status_code == 200
    deadline = time.monotonic() + 3
    while ("paypal", "evt_late", "flagged") not in inbox(demo_database_url):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    got = api.get(f"/transactions/{tx['transaction_id']}", headers=CLIENT).json()
    assert got["status"] == "completed"
    assert balances(api, 1) == [
        {"currency": "USD", "available": "10.00", "withdrawable": "10.00", "held": "0.00"}
    ]


def test_the_raw_callback_is_stored_encrypted(api: httpx.Client, demo_database_url: str) -> None:
    tx = deposit(api, 1, "10.00", "USD").json()
    wait_for_status(api, tx["transaction_id"], "completed")
    with psycopg.connect(demo_database_url) as conn:
        rows = conn.execute("SELECT body_enc FROM callback_inbox").fetchall()
    assert rows
    assert all(r[0].startswith("v1.it.") and tx["transaction_id"] not in r[0] for r in rows)


def test_sandbox_counts_delivered_callbacks(api: httpx.Client) -> None:
    tx = deposit(api, 2, "5.00", "GBP").json()
    wait_for_status(api, tx["transaction_id"], "completed")
    ledger = api.get("/sandbox/stripe/ledger", headers=ADMIN).json()
    assert [p["status"] for p in ledger] == ["completed"]
