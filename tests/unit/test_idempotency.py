"""Idempotency-Key semantics at the HTTP edge (Stripe's), over in-memory adapters."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from dependency_injector import providers
from litestar.testing import AsyncTestClient, TestClient

from adapters.memory.gateways import MemoryProviderRegistry, ScriptedProvider
from adapters.memory.unit_of_work import MemoryUnitOfWork
from adapters.system import UuidV7Generator
from application.deposit import DepositCommand
from application.idempotency import fingerprint, reserving, scope_of
from application.ports import GatewayResult, KeyClaim, PaymentInstruction
from domain.errors import ServiceUnavailable
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
    store = world.container.idempotency_store()
    body = b'{"user_id":1,"amount":"10.00","currency":"USD"}'
    asyncio.run(
        store.claim(
            KeyClaim(
                scope_of(CLIENT_KEY),
                "busy",
                fingerprint("POST", "/deposit", body),
                60,
                owner="another-request",
                transaction_id=UuidV7Generator().new_id(),
                lease_s=60,
            )
        )
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


# -- a request that died holding its key (kill -9): leases ------------------------
RAW = b'{"user_id":1,"amount":"10.00","currency":"USD"}'


def post_raw(client: TestClient[Any], key: str, body: bytes = RAW) -> Any:
    return client.post(
        "/deposit",
        content=body,
        headers={
            "Authorization": f"Bearer {CLIENT_KEY}",
            "Idempotency-Key": key,
            "Content-Type": "application/json",
        },
    )


def claimed_by_a_dead_request(
    world: World, key: str, transaction_id: str, lease_s: float = 0.0, body: bytes = RAW
) -> None:
    """What a request killed mid-flight leaves behind: its claim, the lease running out."""
    store = world.container.idempotency_store()
    claim = asyncio.run(
        store.claim(
            KeyClaim(
                scope_of(CLIENT_KEY),
                key,
                fingerprint("POST", "/deposit", body),
                24 * 3600,
                owner="a-process-that-died",
                transaction_id=transaction_id,
                lease_s=lease_s,
            )
        )
    )
    assert claim.outcome == "new"


def deposited_under(world: World, transaction_id: str) -> None:
    """The dead request got as far as creating its transaction (and calling the gateway)."""

    async def run() -> None:
        with reserving(transaction_id):
            await world.container.deposit().execute(DepositCommand(1, "10.00", "USD"))

    asyncio.run(run())


def test_an_abandoned_key_whose_transaction_exists_replays_its_current_state(
    client: TestClient[Any], world: World
) -> None:
    tx_id = UuidV7Generator().new_id()
    claimed_by_a_dead_request(world, "crashed-1", tx_id)
    deposited_under(world, tx_id)

    r = post_raw(client, "crashed-1")

    assert r.status_code == 200
    assert r.headers["idempotent-replayed"] == "true"
    assert r.headers["cache-control"] == "no-store"
    shown = client.get(f"/transactions/{tx_id}", headers={"Authorization": f"Bearer {CLIENT_KEY}"})
    assert r.json() == shown.json()
    assert r.json()["status"] == "processing"
    assert list(world.store.transactions) == [tx_id]
    assert len(world.gateways["paypal"].received) == 1  # not sent again


def test_the_replay_follows_the_transaction_until_it_is_final_then_stays(
    client: TestClient[Any], world: World
) -> None:
    tx_id = UuidV7Generator().new_id()
    claimed_by_a_dead_request(world, "crashed-2", tx_id)
    deposited_under(world, tx_id)
    assert post_raw(client, "crashed-2").json()["status"] == "processing"

    world.store.transactions[tx_id].complete(message="paid", now=datetime.now(UTC))
    settled = post_raw(client, "crashed-2")
    world.store.transactions[tx_id].message = "changed after the answer was final"
    again = post_raw(client, "crashed-2")

    assert (settled.status_code, settled.json()["status"]) == (200, "completed")
    assert again.content == settled.content  # the final answer was stored
    assert again.headers["idempotent-replayed"] == "true"


def test_an_abandoned_key_without_its_transaction_is_processed_once_under_that_id(
    client: TestClient[Any], world: World
) -> None:
    tx_id = UuidV7Generator().new_id()
    claimed_by_a_dead_request(world, "crashed-3", tx_id)

    first = post_raw(client, "crashed-3")
    again = post_raw(client, "crashed-3")

    assert first.status_code == 201
    assert "idempotent-replayed" not in first.headers
    assert first.json()["transaction_id"] == tx_id
    assert (again.status_code, again.content) == (201, first.content)
    assert list(world.store.transactions) == [tx_id]
    assert len(world.gateways["paypal"].received) == 1


def test_a_live_lease_of_another_request_is_409(client: TestClient[Any], world: World) -> None:
    claimed_by_a_dead_request(world, "alive", UuidV7Generator().new_id(), lease_s=60)
    r = post_raw(client, "alive")
    assert r.status_code == 409
    assert world.store.transactions == {}


def test_another_body_on_an_abandoned_key_is_still_422(
    client: TestClient[Any], world: World
) -> None:
    tx_id = UuidV7Generator().new_id()
    claimed_by_a_dead_request(world, "crashed-4", tx_id)
    deposited_under(world, tx_id)
    r = post_raw(client, "crashed-4", b'{"user_id":1,"amount":"99.00","currency":"USD"}')
    assert r.status_code == 422
    assert r.json()["type"] == "/problems/idempotency-key-reused"
    assert list(world.store.transactions) == [tx_id]


class _SecondCommitFails(MemoryUnitOfWork):
    """The database goes away between creating the transaction and recording the answer."""

    fired = False

    async def commit(self) -> None:
        if self._store.commits == 1 and not _SecondCommitFails.fired:
            _SecondCommitFails.fired = True
            raise ServiceUnavailable("the database is not reachable")
        await super().commit()


def test_an_outage_after_the_transaction_was_created_does_not_let_a_retry_pay_twice(
    client: TestClient[Any], world: World
) -> None:
    _SecondCommitFails.fired = False
    world.container.uow_factory.override(providers.Object(lambda: _SecondCommitFails(world.store)))

    first = post_raw(client, "outage")
    retry = post_raw(client, "outage")

    assert first.status_code == 503
    assert len(world.store.transactions) == 1
    (tx_id,) = world.store.transactions
    assert (retry.status_code, retry.json()["transaction_id"]) == (200, tx_id)
    assert len(world.gateways["paypal"].received) == 1


class _SlowGateway(ScriptedProvider):
    async def submit(self, instruction: PaymentInstruction) -> GatewayResult:
        await asyncio.sleep(0.8)
        return await super().submit(instruction)


async def test_a_request_running_longer_than_its_lease_keeps_its_key(world: World) -> None:
    slow = _SlowGateway("paypal")
    world.container.gateways.override(providers.Object(MemoryProviderRegistry(slow)))
    settings = world.container.settings().with_(idempotency_lease_s=0.2)
    headers = {
        "Authorization": f"Bearer {CLIENT_KEY}",
        "Idempotency-Key": "slow",
        "Content-Type": "application/json",
    }
    app: Any = create_app(settings, world.container)
    # Two requests really at once: straight ASGI on this loop (lifespan via the test client).
    async with (
        AsyncTestClient(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c,
    ):

        async def second() -> Any:
            await asyncio.sleep(0.5)  # the first request's lease was renewed meanwhile
            return await c.post("/deposit", content=RAW, headers=headers)

        first, late = await asyncio.gather(
            c.post("/deposit", content=RAW, headers=headers), second()
        )

    assert (first.status_code, late.status_code) == (201, 409)
    assert len(world.store.transactions) == 1
    assert len(slow.received) == 1
