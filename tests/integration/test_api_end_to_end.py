"""The real app over real PostgreSQL, calling the sandbox gateways over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
import xmltodict

from adapters.crypto.keyring import Keyring
from entrypoints.serve import build_app
from entrypoints.settings import load_settings
from tests.support.api import GATEWAY_KEY_ENV, MERCHANT
from tests.support.server import free_port, running

CLIENT_KEY = "it-client-key"
ADMIN_KEY = "it-admin-key"
CLIENT = {"Authorization": f"Bearer {CLIENT_KEY}"}
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


def make_settings(database_url: str, port: int) -> Any:
    return load_settings(
        {
            "PAYMENTS_DATABASE_URL": database_url,
            "PAYMENTS_PORT": str(port),
            "PAYMENTS_API_KEYS": CLIENT_KEY,
            "PAYMENTS_ADMIN_API_KEYS": ADMIN_KEY,
            "PAYMENTS_SERVE_SANDBOX": "1",
            "PAYMENTS_GATEWAY_READ_TIMEOUT_S": "1",
            "PAYMENTS_ENCRYPTION_KEYS": Keyring.new_key_spec("it"),
            "PAYMENTS_HEALTH_INTERVAL_S": "0",
            "PAYMENTS_RETRY_BACKOFF_BASE_S": "0.01",
            **GATEWAY_KEY_ENV,
        }
    )


@pytest.fixture
def api(demo_database_url: str) -> Iterator[httpx.Client]:
    port = free_port()
    with (
        running(build_app(make_settings(demo_database_url, port)), port) as base,
        httpx.Client(base_url=base, timeout=10) as client,
    ):
        yield client


def deposit(api: httpx.Client, user_id: int, amount: str, currency: str) -> httpx.Response:
    return api.post(
        "/deposit",
        json={"user_id": user_id, "amount": amount, "currency": currency},
        headers=CLIENT,
    )


def count_rows(database_url: str, table: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
        assert row is not None
        return int(row[0])


def test_us_deposit_is_routed_to_paypal_and_recorded(
    api: httpx.Client, demo_database_url: str
) -> None:
    r = deposit(api, 1, "100.00", "USD")
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["gateway"], body["status"], body["amount"]) == ("paypal", "processing", "100.00")
    assert body["redirect_url"].startswith("https://paypal.")
    assert body["reference_id"]
    with psycopg.connect(demo_database_url) as conn:
        row = conn.execute(
            "SELECT status, gateway_id, amount_minor, currency, version FROM transactions"
            " WHERE id = %s",
            (body["transaction_id"],),
        ).fetchone()
        events = conn.execute(
            "SELECT event_type FROM outbox WHERE transaction_id = %s ORDER BY id",
            (body["transaction_id"],),
        ).fetchall()
    assert row == ("processing", "paypal", 10000, "USD", 2)
    assert [e[0] for e in events] == ["transaction.created", "transaction.processing"]


def test_gb_deposit_is_routed_to_stripe(api: httpx.Client) -> None:
    r = deposit(api, 2, "10.00", "GBP")
    assert r.status_code == 201, r.text
    assert r.json()["gateway"] == "stripe"


def test_the_sandbox_receives_exactly_one_payment_per_reference(api: httpx.Client) -> None:
    tx = deposit(api, 1, "5.00", "USD").json()
    ledger = api.get("/sandbox/paypal/ledger", headers=ADMIN).json()
    assert [(p["reference"], p["amount"]) for p in ledger] == [
        (f"{tx['transaction_id']}:1", "5.00")
    ]
    # A replay of the same idempotency reference does not charge again.
    replay = api.post(
        "/sandbox/paypal/payments",
        json={
            "reference": f"{tx['transaction_id']}:1",
            "transaction_id": tx["transaction_id"],
            "type": "deposit",
            "amount": "5.00",
            "currency": "USD",
            "user_id": 1,
        },
        headers={"Idempotency-Key": f"{tx['transaction_id']}:1", **MERCHANT["paypal"]},
    )
    assert replay.status_code == 201
    assert replay.json()["id"] == tx["reference_id"]
    assert len(api.get("/sandbox/paypal/ledger", headers=ADMIN).json()) == 1


def test_transaction_reads_back_with_attempts_and_lists(api: httpx.Client) -> None:
    first = deposit(api, 1, "1.00", "USD").json()
    second = deposit(api, 1, "2.00", "USD").json()
    got = api.get(f"/transactions/{first['transaction_id']}", headers=CLIENT).json()
    assert got["attempts"][0]["gateway"] == "paypal"
    assert got["attempts"][0]["outcome"] == "accepted"
    assert got["attempts"][0]["latency_ms"] >= 0
    page = api.get("/transactions", params={"user_id": 1, "limit": 1}, headers=CLIENT).json()
    assert [t["transaction_id"] for t in page["items"]] == [second["transaction_id"]]
    rest = api.get(
        "/transactions", params={"user_id": 1, "cursor": page["next_cursor"]}, headers=CLIENT
    ).json()
    assert [t["transaction_id"] for t in rest["items"]] == [first["transaction_id"]]


def test_gateway_down_falls_back_to_the_next_priority(api: httpx.Client) -> None:
    assert (
        api.put("/sandbox/paypal/behaviour", json={"mode": "down"}, headers=ADMIN).status_code
        == 200
    )
    r = deposit(api, 1, "3.00", "USD")
    assert r.status_code == 201, r.text
    assert r.json()["gateway"] == "stripe"
    attempts = api.get(f"/transactions/{r.json()['transaction_id']}", headers=CLIENT).json()[
        "attempts"
    ]
    assert [(a["gateway"], a["outcome"]) for a in attempts] == [
        ("paypal", "not_sent"),
        ("stripe", "accepted"),
    ]


def test_decline_is_402_and_no_other_gateway_is_called(api: httpx.Client) -> None:
    api.put("/sandbox/paypal/behaviour", json={"mode": "decline"}, headers=ADMIN)
    r = deposit(api, 1, "3.00", "USD")
    assert r.status_code == 402
    assert r.headers["content-type"].startswith("application/problem+json")
    tx_id = r.json()["transaction_id"]
    assert api.get(f"/transactions/{tx_id}", headers=CLIENT).json()["status"] == "failed"
    assert api.get("/sandbox/stripe/behaviour", headers=ADMIN).json()["requests"] == 0


def test_all_gateways_down_is_503_with_the_failed_transaction(api: httpx.Client) -> None:
    for gid in ("paypal", "stripe", "adyen"):
        api.put(f"/sandbox/{gid}/behaviour", json={"mode": "down"}, headers=ADMIN)
    r = deposit(api, 1, "3.00", "USD")
    assert r.status_code == 503
    tx = api.get(f"/transactions/{r.json()['transaction_id']}", headers=CLIENT).json()
    assert tx["status"] == "failed"


@pytest.mark.parametrize(
    "body",
    [
        {"user_id": 1, "amount": -5, "currency": "USD"},
        {"user_id": 1, "amount": "1.001", "currency": "USD"},
        {"user_id": 4, "amount": "1.5", "currency": "JPY"},
        {"user_id": 1, "amount": "1.00", "currency": "XYZ"},
        {"user_id": 1, "currency": "USD"},
        {"user_id": 999, "amount": "1.00", "currency": "USD"},
        "not an object",
    ],
)
def test_bad_input_is_a_4xx_problem_and_writes_no_row(
    api: httpx.Client, demo_database_url: str, body: Any
) -> None:
    r = api.post("/deposit", json=body, headers=CLIENT)
    assert 400 <= r.status_code < 500, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert count_rows(demo_database_url, "transactions") == 0
    assert count_rows(demo_database_url, "outbox") == 0


def test_malformed_json_is_400_and_writes_no_row(api: httpx.Client, demo_database_url: str) -> None:
    r = api.post(
        "/deposit",
        content=b'{"user_id": 1,',
        headers={**CLIENT, "Content-Type": "application/json"},
    )
    assert r.status_code == 400
    assert count_rows(demo_database_url, "transactions") == 0


def test_auth_401_and_403(api: httpx.Client) -> None:
    assert api.post("/deposit", json={}).status_code == 401
    assert api.put("/users/9", json={"country": "US"}, headers=CLIENT).status_code == 403
    assert api.put("/users/9", json={"country": "US"}, headers=ADMIN).status_code == 201


def test_a_moved_user_is_routed_by_the_new_country(api: httpx.Client) -> None:
    assert api.put("/users/1", json={"country": "GB"}, headers=ADMIN).status_code == 200
    assert deposit(api, 1, "1.00", "GBP").json()["gateway"] == "stripe"


def test_ready_reports_the_database(api: httpx.Client) -> None:
    r = api.get("/ready")
    assert (r.status_code, r.json()["checks"]["database"]) == (200, "ok")


def test_data_survives_an_app_restart(demo_database_url: str) -> None:
    port = free_port()
    with (
        running(build_app(make_settings(demo_database_url, port)), port) as base,
        httpx.Client(base_url=base) as c,
    ):
        tx_id = deposit(c, 1, "7.00", "USD").json()["transaction_id"]
    port = free_port()
    with (
        running(build_app(make_settings(demo_database_url, port)), port) as base,
        httpx.Client(base_url=base) as c,
    ):
        got = c.get(f"/transactions/{tx_id}", headers=CLIENT)
    assert got.status_code == 200
    assert got.json()["amount"] == "7.00"


def test_xml_deposit_with_an_xml_answer(api: httpx.Client, demo_database_url: str) -> None:
    r = api.post(
        "/deposit",
        content=b"<transaction><user_id>1</user_id><amount>25.50</amount>"
        b"<currency>USD</currency></transaction>",
        headers={**CLIENT, "Content-Type": "application/xml", "Accept": "application/xml"},
    )
    assert r.status_code == 201, r.text
    assert r.headers["content-type"].startswith("application/xml")
    body = xmltodict.parse(r.content)["transaction"]
    assert (body["gateway"], body["amount"], body["status"]) == ("paypal", "25.50", "processing")
    assert count_rows(demo_database_url, "transactions") == 1


def test_malformed_xml_is_400_and_writes_nothing(api: httpx.Client, demo_database_url: str) -> None:
    r = api.post(
        "/deposit",
        content=b"<transaction><user_id>1</user_id>",
        headers={**CLIENT, "Content-Type": "application/xml"},
    )
    assert r.status_code == 400
    assert count_rows(demo_database_url, "transactions") == 0
