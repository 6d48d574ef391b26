"""Withdrawals against the wallet ledger on real PostgreSQL, over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
import pytest

from tests.support.api import (
    ADMIN,
    CLIENT,
    attempts,
    behave,
    deposit,
    sandbox_requests,
    serve_api,
    settle_directly,
    withdraw,
)


@pytest.fixture
def api(demo_database_url: str) -> Iterator[httpx.Client]:
    with serve_api(demo_database_url, PAYMENTS_DB_POOL_MAX="20") as client:
        yield client


def fund(api: httpx.Client, database_url: str, user_id: int, amount: str, currency: str) -> None:
    r = deposit(api, user_id, amount, currency)
    assert r.status_code == 201, r.text
    settle_directly(database_url, r.json()["transaction_id"], "completed")


def balances(api: httpx.Client, user_id: int) -> list[dict[str, str]]:
    r = api.get(f"/users/{user_id}/balances", headers=CLIENT)
    assert r.status_code == 200, r.text
    body: list[dict[str, str]] = r.json()
    return body


def ledger_is_sound(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        unbalanced = conn.execute(
            "SELECT journal_id FROM ledger_postings"
            " GROUP BY journal_id HAVING sum(amount_minor) <> 0"
        ).fetchall()
        negative = conn.execute(
            "SELECT id FROM ledger_accounts WHERE kind <> 'external' AND balance_minor < 0"
        ).fetchall()
        drift = conn.execute(
            """SELECT a.id FROM ledger_accounts a
               LEFT JOIN ledger_postings p ON p.account_id = a.id
               WHERE a.kind <> 'external'
               GROUP BY a.id, a.balance_minor
               HAVING a.balance_minor <> coalesce(sum(p.amount_minor), 0)"""
        ).fetchall()
    assert (unbalanced, negative, drift) == ([], [], [])


def test_withdrawal_without_balance_is_422_and_records_nothing(
    api: httpx.Client, demo_database_url: str
) -> None:
    r = withdraw(api, 1, "10.00", "USD")
    assert r.status_code == 422
    assert r.json()["type"].endswith("insufficient-funds")
    assert r.headers["content-type"].startswith("application/problem+json")
    with psycopg.connect(demo_database_url) as conn:
        assert conn.execute("SELECT count(*) FROM transactions").fetchone() == (0,)
    assert sandbox_requests(api, "paypal") == 0


def test_completed_deposit_then_withdrawal_holds_the_amount(
    api: httpx.Client, demo_database_url: str
) -> None:
    assert balances(api, 1) == []
    fund(api, demo_database_url, 1, "100.00", "USD")
    assert balances(api, 1) == [
        {"currency": "USD", "available": "100.00", "withdrawable": "100.00", "held": "0.00"}
    ]
    r = withdraw(api, 1, "60.00", "USD")
    assert r.status_code == 201, r.text
    assert (r.json()["type"], r.json()["status"], r.json()["gateway"]) == (
        "withdrawal",
        "processing",
        "paypal",
    )
    assert balances(api, 1) == [
        {"currency": "USD", "available": "40.00", "withdrawable": "40.00", "held": "60.00"}
    ]
    settle_directly(demo_database_url, r.json()["transaction_id"], "completed")
    assert balances(api, 1) == [
        {"currency": "USD", "available": "40.00", "withdrawable": "40.00", "held": "0.00"}
    ]
    ledger_is_sound(demo_database_url)


def test_a_failed_withdrawal_releases_the_hold(api: httpx.Client, demo_database_url: str) -> None:
    fund(api, demo_database_url, 1, "100.00", "USD")
    tx_id = withdraw(api, 1, "60.00", "USD").json()["transaction_id"]
    settle_directly(demo_database_url, tx_id, "failed")
    assert balances(api, 1) == [
        {"currency": "USD", "available": "100.00", "withdrawable": "100.00", "held": "0.00"}
    ]
    ledger_is_sound(demo_database_url)


def test_twenty_concurrent_withdrawals_never_overspend(
    api: httpx.Client, demo_database_url: str
) -> None:
    fund(api, demo_database_url, 1, "100.00", "USD")
    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(lambda _: withdraw(api, 1, "10.00", "USD").status_code, range(20)))
    assert sorted(statuses) == [201] * 10 + [422] * 10
    assert balances(api, 1) == [
        {"currency": "USD", "available": "0.00", "withdrawable": "0.00", "held": "100.00"}
    ]
    ledger_is_sound(demo_database_url)


def test_a_declined_withdrawal_is_402_and_releases_at_once(
    api: httpx.Client, demo_database_url: str
) -> None:
    fund(api, demo_database_url, 1, "100.00", "USD")
    behave(api, "paypal", mode="decline")
    r = withdraw(api, 1, "30.00", "USD")
    assert r.status_code == 402
    assert balances(api, 1) == [
        {"currency": "USD", "available": "100.00", "withdrawable": "100.00", "held": "0.00"}
    ]
    assert sandbox_requests(api, "stripe") == 0


def test_an_ambiguous_withdrawal_stays_processing_without_fallback(
    api: httpx.Client, demo_database_url: str
) -> None:
    fund(api, demo_database_url, 1, "100.00", "USD")
    behave(api, "paypal", mode="timeout")
    r = withdraw(api, 1, "30.00", "USD")
    assert r.status_code == 201, r.text
    assert (r.json()["status"], r.json()["gateway"]) == ("processing", "paypal")
    assert attempts(api, r.json()["transaction_id"]) == [("paypal", "ambiguous")]
    assert sandbox_requests(api, "stripe") == 0
    # The money may have left at paypal: it stays held until paypal says.
    assert balances(api, 1) == [
        {"currency": "USD", "available": "70.00", "withdrawable": "70.00", "held": "30.00"}
    ]
    ledger = api.get("/sandbox/paypal/ledger", headers=ADMIN).json()
    payouts = [p["reference"] for p in ledger if p["type"] == "withdrawal"]
    assert payouts == [f"{r.json()['transaction_id']}:1"]


def test_soap_payout_for_a_german_user(api: httpx.Client, demo_database_url: str) -> None:
    fund(api, demo_database_url, 3, "50.00", "EUR")
    r = withdraw(api, 3, "20.00", "EUR")
    assert r.status_code == 201, r.text
    assert r.json()["gateway"] == "adyen"
    assert balances(api, 3) == [
        {"currency": "EUR", "available": "30.00", "withdrawable": "30.00", "held": "20.00"}
    ]
    payouts = [
        p
        for p in api.get("/sandbox/adyen/ledger", headers=ADMIN).json()
        if p["type"] == "withdrawal"
    ]
    assert [(p["amount"], p["currency"]) for p in payouts] == [("20.00", "EUR")]


def test_the_destination_is_stored_encrypted_and_never_returned(
    api: httpx.Client, demo_database_url: str
) -> None:
    fund(api, demo_database_url, 1, "100.00", "USD")
    iban = "DE89370400440532013000"
    r = withdraw(api, 1, "10.00", "USD", destination={"iban": iban, "holder": "Ada"})
    assert r.status_code == 201, r.text
    assert iban not in r.text
    detail = api.get(f"/transactions/{r.json()['transaction_id']}", headers=CLIENT)
    assert iban not in detail.text
    with psycopg.connect(demo_database_url) as conn:
        stored = conn.execute(
            "SELECT destination_enc FROM transactions WHERE id = %s", (r.json()["transaction_id"],)
        ).fetchone()
        everything = conn.execute("SELECT t::text FROM transactions t").fetchall()
    assert stored is not None
    assert stored[0].startswith("v1.it.")
    assert all(iban not in row[0] for row in everything)


@pytest.mark.parametrize(
    "body",
    [
        {"user_id": 1, "amount": "10.00", "currency": "USD", "destination": "DE89"},
        {"user_id": 1, "amount": "10.00", "currency": "USD", "destination": {"iban": 5}},
        {"user_id": 1, "amount": "10.00", "currency": "USD", "destination": {}},
        {"user_id": 1, "amount": "0", "currency": "USD"},
        {"user_id": 1, "amount": "1.001", "currency": "USD"},
    ],
)
def test_bad_withdrawals_are_4xx_and_change_nothing(
    api: httpx.Client, demo_database_url: str, body: object
) -> None:
    fund(api, demo_database_url, 1, "100.00", "USD")
    r = api.post("/withdrawal", json=body, headers=CLIENT)
    assert 400 <= r.status_code < 500
    assert balances(api, 1) == [
        {"currency": "USD", "available": "100.00", "withdrawable": "100.00", "held": "0.00"}
    ]


def test_balances_of_an_unknown_user_are_404(api: httpx.Client) -> None:
    assert api.get("/users/999/balances", headers=CLIENT).status_code == 404
    assert api.get("/users/1/balances").status_code == 401
