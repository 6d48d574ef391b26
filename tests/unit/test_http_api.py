"""The HTTP edge over in-memory adapters: auth, problem+json, no writes on bad input."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from application.ports import GatewayResult
from domain.transaction import AttemptOutcome
from entrypoints.http.app import create_app
from entrypoints.sandbox.psp import Sandbox
from tests.unit.conftest import ADMIN_KEY, CLIENT_KEY, World

CLIENT = {"Authorization": f"Bearer {CLIENT_KEY}"}
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


@pytest.fixture
def client(world: World) -> Iterator[TestClient[Any]]:
    settings = world.container.settings()
    app = create_app(settings, world.container, Sandbox({"paypal": "json"}))
    with TestClient(app) as c:
        yield c


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"].startswith("/problems/")
    assert body["title"]
    assert body["detail"]
    return body


def test_deposit_returns_201_with_the_transaction(client: TestClient[Any]) -> None:
    r = client.post(
        "/deposit", json={"user_id": 1, "amount": "100.00", "currency": "USD"}, headers=CLIENT
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["gateway"] == "paypal"
    assert body["status"] == "processing"
    assert body["amount"] == "100.00"
    assert body["type"] == "deposit"
    assert body["version"] == 2
    detail = client.get(f"/transactions/{body['transaction_id']}", headers=CLIENT).json()
    assert detail["attempts"][0]["outcome"] == "accepted"


def test_amount_as_json_number_is_read_exactly(client: TestClient[Any]) -> None:
    r = client.post(
        "/deposit",
        content=b'{"user_id": 1, "amount": 100.10, "currency": "USD"}',
        headers={**CLIENT, "Content-Type": "application/json"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["amount"] == "100.10"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"user_id": 1, "amount": "-5", "currency": "USD"}, 422),
        ({"user_id": 1, "amount": -5, "currency": "USD"}, 422),
        ({"user_id": 1, "amount": "1.001", "currency": "USD"}, 422),
        ({"user_id": 1, "amount": "1.5", "currency": "JPY"}, 422),
        ({"user_id": 1, "amount": "1.00", "currency": "XYZ"}, 422),
        ({"user_id": 1, "amount": "abc", "currency": "USD"}, 400),
        ({"user_id": 1, "amount": True, "currency": "USD"}, 400),
        ({"user_id": 1, "currency": "USD"}, 400),
        ({"amount": "1.00", "currency": "USD"}, 400),
        ({"user_id": "one", "amount": "1.00", "currency": "USD"}, 400),
        ({"user_id": 0, "amount": "1.00", "currency": "USD"}, 400),
        ({"user_id": 1, "amount": "1.00", "currency": "USD", "extra": 1}, 400),
        ({"user_id": 999, "amount": "1.00", "currency": "USD"}, 404),
        ({"user_id": 5, "amount": "1.00", "currency": "USD"}, 422),
        ([], 400),
    ],
)
def test_bad_deposits_get_a_problem_and_write_nothing(
    client: TestClient[Any], world: World, body: Any, status: int
) -> None:
    r = client.post("/deposit", json=body, headers=CLIENT)
    assert_problem(r, status)
    assert world.store.transactions == {}
    assert world.store.commits == 0


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"{not json", "application/json"),
        (b"", "application/json"),
        (b"\xff\xfe", "application/json"),
    ],
)
def test_malformed_bodies_are_400(
    client: TestClient[Any], world: World, content: bytes, content_type: str
) -> None:
    r = client.post("/deposit", content=content, headers={**CLIENT, "Content-Type": content_type})
    assert_problem(r, 400)
    assert world.store.transactions == {}


def test_oversized_body_is_413(client: TestClient[Any], world: World) -> None:
    r = client.post(
        "/deposit",
        content=b'{"user_id": 1, "amount": "1", "currency": "USD", "x": "' + b"a" * 70_000 + b'"}',
        headers={**CLIENT, "Content-Type": "application/json"},
    )
    assert_problem(r, 413)
    assert world.store.transactions == {}


def test_declined_deposit_is_402_with_the_transaction_id(
    client: TestClient[Any], world: World
) -> None:
    world.gateways["paypal"].will(GatewayResult(outcome=AttemptOutcome.DECLINED, message="no"))
    r = client.post(
        "/deposit", json={"user_id": 1, "amount": "1.00", "currency": "USD"}, headers=CLIENT
    )
    body = assert_problem(r, 402)
    assert world.store.transactions[body["transaction_id"]].status.value == "failed"


def test_all_gateways_down_is_503_with_the_transaction_id(
    client: TestClient[Any], world: World
) -> None:
    for gw in world.gateways.values():
        gw.will(GatewayResult(outcome=AttemptOutcome.NOT_SENT))
    r = client.post(
        "/deposit", json={"user_id": 1, "amount": "1.00", "currency": "USD"}, headers=CLIENT
    )
    body = assert_problem(r, 503)
    assert body["transaction_id"] in world.store.transactions


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {CLIENT_KEY}"},
        {"Authorization": "Bearer "},
    ],
)
def test_missing_or_unknown_key_is_401(client: TestClient[Any], headers: dict[str, str]) -> None:
    r = client.post(
        "/deposit", json={"user_id": 1, "amount": "1", "currency": "USD"}, headers=headers
    )
    assert_problem(r, 401)
    assert r.headers["www-authenticate"] == "Bearer"
    assert_problem(client.get("/transactions", headers=headers), 401)


def test_client_key_on_an_admin_route_is_403(client: TestClient[Any], world: World) -> None:
    assert_problem(client.put("/users/7", json={"country": "US"}, headers=CLIENT), 403)
    assert 7 not in world.store.users
    assert_problem(
        client.put("/sandbox/paypal/behaviour", json={"mode": "down"}, headers=CLIENT), 403
    )


def test_admin_creates_then_moves_a_user(client: TestClient[Any], world: World) -> None:
    assert client.put("/users/7", json={"country": "US"}, headers=ADMIN).status_code == 201
    r = client.put("/users/7", json={"country": "GB"}, headers=ADMIN)
    assert (r.status_code, r.json()) == (200, {"user_id": 7, "country": "GB"})
    assert_problem(client.put("/users/7", json={"country": "ZZ"}, headers=ADMIN), 422)
    assert_problem(client.put("/users/7", json={"country": "gb"}, headers=ADMIN), 400)
    assert_problem(client.put("/users/0", json={"country": "GB"}, headers=ADMIN), 400)
    assert world.store.users[7].country.value == "GB"


def test_list_transactions_validates_its_query(client: TestClient[Any]) -> None:
    assert_problem(client.get("/transactions?limit=0", headers=CLIENT), 400)
    assert_problem(client.get("/transactions?status=weird", headers=CLIENT), 422)
    assert_problem(client.get("/transactions?cursor=zz", headers=CLIENT), 422)
    assert client.get("/transactions?limit=5", headers=CLIENT).json() == {
        "items": [],
        "next_cursor": None,
    }


def test_unknown_transaction_is_404(client: TestClient[Any]) -> None:
    assert_problem(client.get("/transactions/not-a-uuid", headers=CLIENT), 404)


def test_health_and_ready_need_no_key(client: TestClient[Any]) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/ready").status_code == 200


def test_openapi_documents_the_contract(client: TestClient[Any]) -> None:
    schema = client.get("/schema/openapi.json").json()
    for path in (
        "/deposit",
        "/transactions",
        "/transactions/{transaction_id}",
        "/users/{user_id}",
        "/health",
        "/ready",
        "/withdrawal",
        "/users/{user_id}/balances",
        "/gateways",
        "/gateways/{gateway_id}/status",
        "/countries/{country}/gateways",
    ):
        assert path in schema["paths"], path


def test_every_answer_carries_server_timing(client: TestClient[Any]) -> None:
    r = client.post(
        "/deposit", json={"user_id": 1, "amount": "1.00", "currency": "USD"}, headers=CLIENT
    )
    parts = dict(p.strip().split(";dur=") for p in r.headers["server-timing"].split(","))
    assert set(parts) == {"gateway", "app", "total"}
    assert float(parts["total"]) >= float(parts["gateway"]) >= 0
    assert "server-timing" in client.get("/health").headers


def test_answers_carrying_money_or_transactions_are_never_cached(
    client: TestClient[Any],
) -> None:
    made = client.post(
        "/deposit", json={"user_id": 1, "amount": "5.00", "currency": "USD"}, headers=CLIENT
    )
    tx_id = made.json()["transaction_id"]
    answers = [
        made,
        client.get(f"/transactions/{tx_id}", headers=CLIENT),
        client.get("/transactions?user_id=1", headers=CLIENT),
        client.get("/users/1/balances", headers=CLIENT),
    ]
    for answer in answers:
        assert answer.status_code in (200, 201), answer.text
        assert answer.headers["cache-control"] == "no-store", answer.request.url


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
)
def test_a_body_in_another_content_type_is_415_and_records_nothing(
    client: TestClient[Any], world: World, content_type: str | None
) -> None:
    body = b'{"user_id": 1, "amount": "1.00", "currency": "USD"}'
    headers = {**CLIENT, **({"Content-Type": content_type} if content_type else {})}
    r = client.post("/deposit", content=body, headers=headers)
    problem = assert_problem(r, 415)
    assert problem["type"] == "/problems/unsupported-media-type"
    assert world.store.transactions == {}


def test_json_with_a_charset_is_accepted(client: TestClient[Any]) -> None:
    body = b'{"user_id": 1, "amount": "1.00", "currency": "USD"}'
    headers = {**CLIENT, "Content-Type": "application/json; charset=utf-8"}
    assert client.post("/deposit", content=body, headers=headers).status_code == 201


@pytest.mark.parametrize(
    ("path", "method", "body"),
    [
        (
            "/deposit",
            "POST",
            b'{"user_id": 1, "amount": "1.23", "currency": "USD", "amount": "999.00"}',
        ),
        (
            "/withdrawal",
            "POST",
            b'{"user_id": 1, "amount": "1.00", "currency": "USD",'
            b' "destination": {"iban": "DE1", "iban": "DE2"}}',
        ),
        ("/users/7", "PUT", b'{"country": "US", "country": "GB"}'),
    ],
)
def test_a_json_object_that_repeats_a_key_is_400_and_records_nothing(
    client: TestClient[Any], world: World, path: str, method: str, body: bytes
) -> None:
    key = ADMIN if path.startswith("/users") else CLIENT
    headers = {**key, "Content-Type": "application/json"}
    r = client.request(method, path, content=body, headers=headers)
    problem = assert_problem(r, 400)
    assert "repeats the key" in problem["detail"]
    assert world.store.transactions == {}
    assert 7 not in world.store.users


def test_gateway_callbacks_choose_their_own_content_type(client: TestClient[Any]) -> None:
    # Authenticated by signature, read by the gateway's family: no 415 here;
    # the callback route answers for itself (this world knows no verifiers).
    r = client.post("/callback/paypal", content=b'{"event_id": "e"}')
    assert r.status_code != 415
    assert_problem(r, 404)
