"""Idempotency-Key semantics at the HTTP edge (Stripe's), over in-memory adapters."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from application.ports import GatewayResult
from domain.transaction import AttemptOutcome
from entrypoints.http.app import create_app
from tests.unit.conftest import ADMIN_KEY, CLIENT_KEY, World

BODY = {"user_id": 1, "amount": "10.00", "currency": "USD"}


@pytest.fixture
def client(world: World) -> Iterator[TestClient[Any]]:
    with TestClient(create_app(world.container.settings(), world.container)) as c:
        yield c


def post(
    client: TestClient[Any], key: str | None, body: Any = BODY, api_key: str = CLIENT_KEY
) -> Any:
    headers = {"Authorization": f"Bearer {api_key}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post("/deposit", json=body, headers=headers)


def test_a_replay_returns_the_stored_answer_and_calls_no_gateway(
    client: TestClient[Any], world: World
) -> None:
    first = post(client, "k-1")
    again = post(client, "k-1")
    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert len(world.gateways["paypal"].received) == 1
    assert len(world.store.transactions) == 1


def test_without_a_key_every_request_is_new(client: TestClient[Any], world: World) -> None:
    post(client, None)
    post(client, None)
    assert len(world.store.transactions) == 2


def test_the_same_key_with_another_body_is_422(client: TestClient[Any], world: World) -> None:
    post(client, "k-2")
    r = post(client, "k-2", {**BODY, "amount": "11.00"})
    assert r.status_code == 422
    assert r.json()["type"] == "/problems/idempotency-key-reused"
    assert len(world.store.transactions) == 1


def test_keys_are_scoped_per_api_key(client: TestClient[Any], world: World) -> None:
    post(client, "shared")
    r = post(client, "shared", api_key=ADMIN_KEY)
    assert r.status_code == 201
    assert "idempotent-replayed" not in r.headers
    assert len(world.store.transactions) == 2


def test_a_key_in_flight_is_409(client: TestClient[Any], world: World) -> None:
    import asyncio

    from application.idempotency import fingerprint, scope_of

    store = world.container.idempotency_store()
    body = b'{"user_id":1,"amount":"10.00","currency":"USD"}'
    asyncio.run(
        store.claim(scope_of(CLIENT_KEY), "busy", fingerprint("POST", "/deposit", body), 60)
    )
    r = client.post(
        "/deposit",
        content=body,
        headers={
            "Authorization": f"Bearer {CLIENT_KEY}",
            "Idempotency-Key": "busy",
            "Content-Type": "application/json",
        },
    )
    assert r.status_code == 409
    assert world.store.transactions == {}


def test_validation_errors_release_the_key(client: TestClient[Any], world: World) -> None:
    assert post(client, "k-3", {**BODY, "amount": "abc"}).status_code == 400
    r = post(client, "k-3", {**BODY, "amount": "abd"})
    assert r.status_code == 400
    assert "idempotent-replayed" not in r.headers
    assert post(client, "k-3").status_code == 201


def test_a_decline_is_remembered(client: TestClient[Any], world: World) -> None:
    world.gateways["paypal"].will(GatewayResult(outcome=AttemptOutcome.DECLINED, message="no"))
    first = post(client, "k-4")
    again = post(client, "k-4")
    assert first.status_code == again.status_code == 402
    assert again.json()["transaction_id"] == first.json()["transaction_id"]
    assert len(world.gateways["paypal"].received) == 1


@pytest.mark.parametrize("key", ["x" * 256, "tab\there", "  "])
def test_malformed_keys_are_400(client: TestClient[Any], world: World, key: str) -> None:
    r = client.post(
        "/deposit",
        json=BODY,
        headers={"Authorization": f"Bearer {CLIENT_KEY}", "Idempotency-Key": key},
    )
    assert r.status_code == 400
    assert world.store.transactions == {}


def test_an_unauthenticated_request_is_still_401(client: TestClient[Any]) -> None:
    r = client.post("/deposit", json=BODY, headers={"Idempotency-Key": "k"})
    assert r.status_code == 401


def test_xml_replays_come_back_as_xml(client: TestClient[Any], world: World) -> None:
    headers = {
        "Authorization": f"Bearer {CLIENT_KEY}",
        "Idempotency-Key": "k-xml",
        "Content-Type": "application/xml",
        "Accept": "application/xml",
    }
    xml = (
        b"<transaction><user_id>1</user_id><amount>5.00</amount>"
        b"<currency>USD</currency></transaction>"
    )
    first = client.post("/deposit", content=xml, headers=headers)
    again = client.post("/deposit", content=xml, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["content-type"].startswith("application/xml")
    assert again.content == first.content
    assert len(world.store.transactions) == 1
