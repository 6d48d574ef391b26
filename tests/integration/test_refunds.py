"""Refunds end to end: real PostgreSQL, the sandbox PSPs over real HTTP, both wire families.

For each family (json: paypal, user 1 in the US; soap: adyen, user 3 in
Germany) a deposit is completed by the sandbox's own signed callback, then
refunded through the same gateway, whose refund callback completes the
refund; the wallet, the deposit's view and `payments check` must agree.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
import pytest

from tests.support.api import (
    CLIENT,
    behave,
    check_invariants,
    deposit,
    sandbox_requests,
    serve_api,
    wait_for_status,
    withdraw,
)

# (gateway, user, currency): each user's country routes deposits to that gateway first.
FAMILIES = {"json": ("paypal", 1, "USD"), "soap": ("adyen", 3, "EUR")}


@pytest.fixture
def api(demo_database_url: str) -> Iterator[httpx.Client]:
    with serve_api(demo_database_url, PAYMENTS_DB_POOL_MAX="10") as client:
        yield client


def refund(
    api: httpx.Client, deposit_id: str, body: dict[str, str], **headers: str
) -> httpx.Response:
    return api.post(f"/transactions/{deposit_id}/refunds", json=body, headers={**CLIENT, **headers})


def available(api: httpx.Client, user_id: int, currency: str) -> tuple[str, str]:
    r = api.get(f"/users/{user_id}/balances", headers=CLIENT)
    assert r.status_code == 200, r.text
    row = next(b for b in r.json() if b["currency"] == currency)
    return row["available"], row["held"]


def completed_deposit(api: httpx.Client, gateway: str, user_id: int, currency: str) -> str:
    r = deposit(api, user_id, "100.00", currency)
    assert r.status_code == 201, r.text
    assert r.json()["gateway"] == gateway
    tx_id: str = r.json()["transaction_id"]
    wait_for_status(api, tx_id, "completed")  # the sandbox's signed callback
    return tx_id


def refunds_recorded(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM transactions WHERE type = 'refund'").fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.parametrize("family", list(FAMILIES))
def test_partial_then_the_rest_then_nothing_left(
    api: httpx.Client, demo_database_url: str, family: str
) -> None:
    gateway, user_id, currency = FAMILIES[family]
    deposit_id = completed_deposit(api, gateway, user_id, currency)
    assert available(api, user_id, currency) == ("100.00", "0.00")

    first = refund(
        api,
        deposit_id,
        {"amount": "40.00", "reason": "customer request"},
        **{"Idempotency-Key": f"refund-{family}-1"},
    )
    assert first.status_code == 201, first.text
    body = first.json()
    assert (body["type"], body["parent_transaction_id"], body["gateway"]) == (
        "refund",
        deposit_id,
        gateway,
    )
    assert body["amount"] == "40.00"
    assert body["status"] in ("processing", "completed")
    # The same key again: the same refund, not a second one.
    again = refund(
        api,
        deposit_id,
        {"amount": "40.00", "reason": "customer request"},
        **{"Idempotency-Key": f"refund-{family}-1"},
    )
    assert again.status_code == 201
    assert again.json()["transaction_id"] == body["transaction_id"]
    assert again.headers.get("idempotent-replayed") == "true"
    wait_for_status(api, body["transaction_id"], "completed")  # the refund's callback
    assert available(api, user_id, currency) == ("60.00", "0.00")

    rest = refund(api, deposit_id, {})  # no amount: all that is left
    assert rest.status_code == 201, rest.text
    assert rest.json()["amount"] == "60.00"
    wait_for_status(api, rest.json()["transaction_id"], "completed")
    assert available(api, user_id, currency) == ("0.00", "0.00")

    view = api.get(f"/transactions/{deposit_id}", headers=CLIENT).json()
    assert view["refunded_amount"] == "100.00"
    assert [(r["amount"], r["status"]) for r in view["refunds"]] == [
        ("40.00", "completed"),
        ("60.00", "completed"),
    ]

    more = refund(api, deposit_id, {"amount": "1.00"})
    assert more.status_code == 422, more.text
    assert more.json()["type"].endswith("/refund-exceeds-payment")
    assert refunds_recorded(demo_database_url) == 2
    check_invariants(demo_database_url, str(api.base_url))


@pytest.mark.parametrize("family", list(FAMILIES))
def test_a_processing_deposit_is_not_refundable(
    api: httpx.Client, demo_database_url: str, family: str
) -> None:
    gateway, user_id, currency = FAMILIES[family]
    behave(api, gateway, mode="ok", callback_delay_ms=60_000)  # no final word yet
    r = deposit(api, user_id, "100.00", currency)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "processing"
    requests_before = sandbox_requests(api, gateway)
    answer = refund(api, r.json()["transaction_id"], {"amount": "10.00"})
    assert answer.status_code == 409, answer.text
    assert answer.json()["type"].endswith("/not-refundable")
    assert refunds_recorded(demo_database_url) == 0
    assert sandbox_requests(api, gateway) == requests_before


@pytest.mark.parametrize("family", list(FAMILIES))
def test_money_already_withdrawn_cannot_be_refunded(
    api: httpx.Client, demo_database_url: str, family: str
) -> None:
    gateway, user_id, currency = FAMILIES[family]
    deposit_id = completed_deposit(api, gateway, user_id, currency)
    w = withdraw(api, user_id, "100.00", currency, destination={"iban": "DE89370400440532013000"})
    assert w.status_code == 201, w.text
    requests_before = sandbox_requests(api, gateway)
    answer = refund(api, deposit_id, {"amount": "10.00"})
    assert answer.status_code == 422, answer.text
    assert answer.json()["type"].endswith("/insufficient-funds")
    assert refunds_recorded(demo_database_url) == 0
    assert sandbox_requests(api, gateway) == requests_before
    view = api.get(f"/transactions/{deposit_id}", headers=CLIENT).json()
    assert (view["refunds"], view["refunded_amount"]) == ([], "0.00")


def test_unknown_transaction_and_bad_bodies(api: httpx.Client, demo_database_url: str) -> None:
    missing = refund(api, "0190a0a0-0000-7000-8000-000000000000", {"amount": "1.00"})
    assert missing.status_code == 404, missing.text
    gateway, user_id, currency = FAMILIES["json"]
    deposit_id = completed_deposit(api, gateway, user_id, currency)
    for body, status in (
        ({"amount": "-1.00"}, 422),  # not positive, as for deposits
        ({"amount": "1.00", "extra": "x"}, 400),  # unknown fields refused
        ({"reason": 7}, 400),  # no coercion
        ({"amount": "1.001"}, 422),  # more places than USD has
        ({"amount": "1.00", "reason": "x" * 501}, 400),
    ):
        r = api.post(f"/transactions/{deposit_id}/refunds", json=body, headers=CLIENT)
        assert r.status_code == status, (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    assert refunds_recorded(demo_database_url) == 0
    assert available(api, user_id, currency) == ("100.00", "0.00")


def test_concurrent_refunds_never_exceed_the_deposit(
    api: httpx.Client, demo_database_url: str
) -> None:
    gateway, user_id, currency = FAMILIES["json"]
    deposit_id = completed_deposit(api, gateway, user_id, currency)
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(
            pool.map(lambda _: refund(api, deposit_id, {"amount": "60.00"}).status_code, range(6))
        )
    # The deposit's row lock decides them one after the other: one fits, the rest do not.
    assert sorted(answers) == [201, 422, 422, 422, 422, 422]
    assert refunds_recorded(demo_database_url) == 1
    assert available(api, user_id, currency) in (("40.00", "60.00"), ("40.00", "0.00"))
