"""Webhook endpoints and deliveries through the real wiring, on in-memory fakes:
the admin API, retries with backoff, per-endpoint queues, disabling."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from dependency_injector import providers
from litestar.testing import TestClient

from adapters.memory.session_revocations import MemorySessionRevocations
from adapters.memory.webhooks import MemoryWebhooks
from application.ports import SendResult, WebhookEndpoint
from application.webhooks.deliver_due import DeliverDueWebhooks
from entrypoints.http.app import create_app
from tests.unit.conftest import ADMIN_KEY, CLIENT_KEY, World

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
CLIENT = {"Authorization": f"Bearer {CLIENT_KEY}"}


class Clock:
    def __init__(self) -> None:
        self.at = datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


@dataclass
class Sender:
    """Answers per URL from a script; ``hang`` URLs wait until released."""

    script: dict[str, list[int]] = field(default_factory=dict)
    hang: set[str] = field(default_factory=set)
    sent: list[tuple[str, str]] = field(default_factory=list)
    signed_with: list[tuple[str, ...]] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def send(
        self, url: str, secret: str, event_id: str, body: bytes, previous: str | None = None
    ) -> SendResult:
        self.sent.append((url, event_id))
        self.signed_with.append((secret,) if previous is None else (secret, previous))
        if url in self.hang:
            await self.release.wait()
            return SendResult(None, 5000, "ReadTimeout")
        codes = self.script.get(url, [])
        return SendResult(codes.pop(0) if codes else 200, 3)


@dataclass
class Hooks:
    store: MemoryWebhooks
    sender: Sender
    clock: Clock
    world: World

    def deliver(self) -> DeliverDueWebhooks:
        use_case: DeliverDueWebhooks = self.world.container.deliver_webhooks()
        return use_case


@pytest.fixture
def hooks(world: World) -> Hooks:
    clock = Clock()
    store = MemoryWebhooks(clock.now)
    sender = Sender()
    c = world.container
    c.clock.override(providers.Object(clock))
    c.webhook_endpoints.override(providers.Object(store))
    c.webhook_queue.override(providers.Object(store))
    c.webhook_sender.override(providers.Object(sender))
    return Hooks(store, sender, clock, world)


@pytest.fixture
def client(hooks: Hooks) -> Iterator[TestClient[Any]]:
    container = hooks.world.container
    with TestClient(create_app(container.settings(), container)) as c:
        yield c


def event(n: int, type_: str = "transaction.completed") -> dict[str, Any]:
    return {"event_id": f"e{n}", "type": type_, "transaction_id": "t", "version": n, "data": {}}


def endpoint(hooks: Hooks, url: str, events: tuple[str, ...] = ("*",)) -> str:
    now = hooks.clock.now()
    eid = f"00000000-0000-0000-0000-{len(hooks.store.endpoints):012d}"
    hooks.store.endpoints[eid] = WebhookEndpoint(eid, url, events, "", "enabled", now, now)
    hooks.store.secrets[eid] = "whsec_x"
    return eid


async def run_until_idle(deliver: DeliverDueWebhooks) -> None:
    await deliver.execute()
    await deliver.drain()


def test_the_admin_api_creates_reads_changes_and_deletes_endpoints(
    client: TestClient[Any], hooks: Hooks
) -> None:
    # An IP literal: the target guard resolves without asking a DNS server.
    body = {"url": "https://93.184.216.34/h", "events": ["transaction.completed"]}
    assert client.post("/webhook-endpoints", json=body, headers=CLIENT).status_code == 403
    private = {**body, "url": "http://127.0.0.1:8080/h"}
    assert client.post("/webhook-endpoints", json=private, headers=ADMIN).status_code == 422
    created = client.post("/webhook-endpoints", json=body, headers=ADMIN)
    assert created.status_code == 201, created.text
    shown = created.json()
    assert shown["status"] == "enabled"
    assert shown["secret"].startswith("whsec_")
    assert hooks.store.secrets[shown["id"]] == shown["secret"]
    listed = client.get("/webhook-endpoints", headers=ADMIN).json()
    assert [e["id"] for e in listed] == [shown["id"]]
    assert "secret" not in listed[0]
    patched = client.patch(
        f"/webhook-endpoints/{shown['id']}", json={"status": "disabled"}, headers=ADMIN
    )
    assert patched.json()["status"] == "disabled"
    bad = client.patch(f"/webhook-endpoints/{shown['id']}", json={"status": "off"}, headers=ADMIN)
    assert bad.status_code == 422
    assert client.delete(f"/webhook-endpoints/{shown['id']}", headers=ADMIN).status_code == 204
    assert client.get(f"/webhook-endpoints/{shown['id']}", headers=ADMIN).status_code == 404
    actions = [e.action for kind, _, e in hooks.world.store.audit if kind == "webhook_endpoint"]
    assert actions == [
        "webhook_endpoint.created",
        "webhook_endpoint.updated",
        "webhook_endpoint.deleted",
    ]


async def test_a_failing_endpoint_gets_the_event_on_the_fourth_try(hooks: Hooks) -> None:
    eid = endpoint(hooks, "https://a.example/")
    hooks.sender.script["https://a.example/"] = [500, 503, 500]
    hooks.store.fan_out(event(1))
    deliver = hooks.deliver()
    for _ in range(4):
        await run_until_idle(deliver)
        hooks.clock.advance(3600)  # past any backoff
    rows = await hooks.store.deliveries(eid, 10)
    assert [(d.attempt, d.status_code, d.state) for d in rows] == [
        (4, 200, "delivered"),
        (3, 500, "failed"),
        (2, 503, "failed"),
        (1, 500, "failed"),
    ]
    assert hooks.store.endpoints[eid].failing_since is None


async def test_a_retry_is_not_sent_before_its_backoff(hooks: Hooks) -> None:
    endpoint(hooks, "https://a.example/")
    hooks.sender.script["https://a.example/"] = [500]
    hooks.store.fan_out(event(1))
    deliver = hooks.deliver()
    await run_until_idle(deliver)
    await run_until_idle(deliver)
    assert len(hooks.sender.sent) == 1
    hooks.clock.advance(10)  # the first retry waits 5-10 s (base 10 s, equal jitter)
    await run_until_idle(deliver)
    assert len(hooks.sender.sent) == 2


async def test_a_hanging_endpoint_delays_only_its_own_queue(hooks: Hooks) -> None:
    endpoint(hooks, "https://stuck.example/")
    endpoint(hooks, "https://fine.example/")
    hooks.sender.hang.add("https://stuck.example/")
    for n in range(3):
        hooks.store.fan_out(event(n))
    deliver = hooks.deliver()
    await deliver.execute()
    for _ in range(20):
        await asyncio.sleep(0)
    fine = [e for url, e in hooks.sender.sent if url == "https://fine.example/"]
    stuck = [e for url, e in hooks.sender.sent if url == "https://stuck.example/"]
    assert fine == ["e0", "e1", "e2"]
    assert stuck == ["e0"]  # one at a time: the next waits for this one
    # Another pass does not start a second sender on the stuck endpoint.
    hooks.store.fan_out(event(9))
    await deliver.execute()
    for _ in range(20):
        await asyncio.sleep(0)
    assert [e for url, e in hooks.sender.sent if url == "https://stuck.example/"] == ["e0"]
    hooks.sender.release.set()
    await deliver.drain()


async def test_an_endpoint_failing_for_the_whole_window_is_disabled(hooks: Hooks) -> None:
    eid = endpoint(hooks, "https://dead.example/")
    hooks.sender.script["https://dead.example/"] = [500] * 1000
    hooks.store.fan_out(event(1))
    deliver = hooks.deliver()
    for _ in range(200):
        await run_until_idle(deliver)
        if hooks.store.endpoints[eid].status == "disabled":
            break
        hooks.clock.advance(3600)
    assert hooks.store.endpoints[eid].status == "disabled"
    first = hooks.store.rows[0].record.attempted_at
    assert first is not None
    assert hooks.clock.now() - first >= timedelta(hours=71)
    tries = len(hooks.sender.sent)
    hooks.clock.advance(3600)
    await run_until_idle(deliver)
    assert len(hooks.sender.sent) == tries


async def test_a_filtered_endpoint_is_queued_only_its_events(hooks: Hooks) -> None:
    only = endpoint(hooks, "https://only.example/", ("transaction.failed",))
    every = endpoint(hooks, "https://all.example/")
    hooks.store.fan_out(event(1, "transaction.created"))
    hooks.store.fan_out(event(2, "transaction.failed"))
    await run_until_idle(hooks.deliver())
    assert [d.type for d in await hooks.store.deliveries(only, 10)] == ["transaction.failed"]
    assert len(await hooks.store.deliveries(every, 10)) == 2


async def test_the_dashboard_lists_endpoints_with_status_and_recent_deliveries(
    hooks: Hooks,
) -> None:
    hooks.world.container.session_revocations.override(providers.Object(MemorySessionRevocations()))
    eid = endpoint(hooks, "https://dead.example/hook")
    hooks.sender.script["https://dead.example/hook"] = [503]
    hooks.store.fan_out(event(1))
    await run_until_idle(hooks.deliver())
    container = hooks.world.container
    with TestClient(create_app(container.settings(), container)) as c:
        login = c.post("/dashboard/login", data={"api_key": ADMIN_KEY}, follow_redirects=False)
        assert login.status_code == 303
        page = c.get("/dashboard/webhooks")
    assert page.status_code == 200, page.text
    assert f'id="endpoint-{eid}"' in page.text
    assert "https://dead.example/hook" in page.text
    assert "failing since" in page.text
    assert "<td>503</td>" in page.text
    assert 'href="/dashboard/webhooks" aria-current="page"' in page.text
