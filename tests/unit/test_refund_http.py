"""POST /transactions/{id}/refunds and the refunds on a deposit's views, through the wiring."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from dependency_injector import providers
from litestar.testing import TestClient

from adapters.memory.session_revocations import MemorySessionRevocations
from application.settle import FinalStatus, SettleCommand
from entrypoints.http.app import create_app
from tests.unit.conftest import ADMIN_KEY, CLIENT_KEY, World

CLIENT = {"Authorization": f"Bearer {CLIENT_KEY}"}


@pytest.fixture
def client(world: World) -> Iterator[TestClient[Any]]:
    world.container.session_revocations.override(providers.Object(MemorySessionRevocations()))
    with TestClient(create_app(world.container.settings(), world.container)) as c:
        yield c


def completed_deposit(client: TestClient[Any], world: World) -> str:
    r = client.post(
        "/deposit", json={"user_id": 1, "amount": "100.00", "currency": "USD"}, headers=CLIENT
    )
    assert r.status_code == 201, r.text
    tx_id: str = r.json()["transaction_id"]

    async def settle() -> None:
        await world.container.settle().execute(SettleCommand(tx_id, FinalStatus.COMPLETED, "ok"))

    asyncio.run(settle())  # the memory store belongs to no event loop
    return tx_id


def test_a_refund_is_created_once_per_idempotency_key_and_listed_on_the_deposit(
    client: TestClient[Any], world: World
) -> None:
    deposit_id = completed_deposit(client, world)
    headers = {**CLIENT, "Idempotency-Key": "refund-1"}
    url = f"/transactions/{deposit_id}/refunds"
    first = client.post(
        url, json={"amount": "25.00", "reason": "customer request"}, headers=headers
    )
    assert first.status_code == 201, first.text
    assert first.headers["cache-control"] == "no-store"
    again = client.post(
        url, json={"amount": "25.00", "reason": "customer request"}, headers=headers
    )
    assert again.json()["transaction_id"] == first.json()["transaction_id"]
    assert again.headers["idempotent-replayed"] == "true"
    other = client.post(url, json={"amount": "26.00"}, headers=headers)
    assert other.status_code == 422  # the same key for another refund

    view = client.get(f"/transactions/{deposit_id}", headers=CLIENT).json()
    assert [r["transaction_id"] for r in view["refunds"]] == [first.json()["transaction_id"]]
    assert view["refunded_amount"] == "0.00"  # still processing at the gateway
    refund_view = client.get(f"/transactions/{first.json()['transaction_id']}", headers=CLIENT)
    body = refund_view.json()
    assert (body["type"], body["parent_transaction_id"], body["refunds"]) == (
        "refund",
        deposit_id,
        None,
    )


def test_refund_problems(client: TestClient[Any], world: World) -> None:
    deposit_id = completed_deposit(client, world)
    url = f"/transactions/{deposit_id}/refunds"
    too_much = client.post(url, json={"amount": "100.01"}, headers=CLIENT)
    assert too_much.status_code == 422
    assert too_much.json()["type"] == "/problems/refund-exceeds-payment"
    unknown = client.post("/transactions/nope/refunds", json={}, headers=CLIENT)
    assert unknown.status_code == 404
    no_key = client.post(url, json={})
    assert no_key.status_code == 401
    coerced = client.post(url, json={"amount": "1.00", "reason": 5}, headers=CLIENT)
    assert coerced.status_code == 400
    whole = client.post(url, json={}, headers=CLIENT)
    assert whole.status_code == 201
    assert whole.json()["amount"] == "100.00"
    processing = client.post(
        "/deposit", json={"user_id": 1, "amount": "5.00", "currency": "USD"}, headers=CLIENT
    ).json()["transaction_id"]
    refused = client.post(f"/transactions/{processing}/refunds", json={}, headers=CLIENT)
    assert refused.status_code == 409
    assert refused.json()["type"] == "/problems/not-refundable"


def test_the_dashboard_shows_a_deposits_refunds(client: TestClient[Any], world: World) -> None:
    deposit_id = completed_deposit(client, world)
    refund = client.post(
        f"/transactions/{deposit_id}/refunds", json={"amount": "10.00"}, headers=CLIENT
    ).json()
    login = client.post("/dashboard/login", data={"api_key": ADMIN_KEY}, follow_redirects=False)
    assert login.status_code == 303
    page = client.get(f"/dashboard/transactions/{deposit_id}")
    assert page.status_code == 200
    assert 'id="refunds"' in page.text
    assert refund["transaction_id"] in page.text
    assert "0.00 USD refunded" in page.text
    refund_page = client.get(f"/dashboard/transactions/{refund['transaction_id']}")
    assert 'data-testid="parent"' in refund_page.text
