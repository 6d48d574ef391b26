"""Admission control sheds payments beyond the cap at once, and only payments."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from application.ports import GatewayResult, PaymentInstruction
from entrypoints.http.admission import AdmissionMiddleware, Gate
from entrypoints.http.app import create_app
from entrypoints.settings import Settings, load_settings
from tests.unit.conftest import CLIENT_KEY, World

CLIENT = {"Authorization": f"Bearer {CLIENT_KEY}"}


class HeldApp:
    """An ASGI app that answers 201 once released; counts the requests it saw."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.started = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.started += 1
        await self.release.wait()
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})


class Exchange:
    """One request through the middleware: what was sent back, whether the body was read."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.body_read = False

    async def receive(self) -> dict[str, Any]:
        self.body_read = True
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(self, message: dict[str, Any]) -> None:
        self.messages.append(message)

    @property
    def status(self) -> int | None:
        return self.messages[0]["status"] if self.messages else None

    @property
    def headers(self) -> dict[bytes, bytes]:
        return dict(self.messages[0]["headers"])


def http(path: str, method: str = "POST") -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, "headers": []}


def middleware(app: HeldApp, payments: int = 2, callbacks: int = 3) -> AdmissionMiddleware:
    return AdmissionMiddleware(
        app, payments=Gate("payment", payments), callbacks=Gate("callback", callbacks)
    )


async def start(mw: AdmissionMiddleware, path: str, method: str = "POST") -> tuple[Any, Exchange]:
    exchange = Exchange()
    task = asyncio.create_task(mw(http(path, method), exchange.receive, exchange.send))  # type: ignore[arg-type]
    await asyncio.sleep(0)  # let it reach the app (or be refused)
    return task, exchange


async def test_payments_beyond_the_cap_get_a_503_problem_with_retry_after_at_once() -> None:
    app = HeldApp()
    mw = middleware(app, payments=2)
    held = [await start(mw, "/deposit"), await start(mw, "/withdrawal")]
    task, refused = await start(mw, "/deposit")
    await asyncio.wait_for(task, 1)  # answered without waiting for a slot
    assert refused.status == 503
    assert refused.headers[b"retry-after"] == b"1"
    assert refused.headers[b"content-type"] == b"application/problem+json"
    body = json.loads(refused.messages[1]["body"])
    assert (body["status"], body["type"]) == (503, "/problems/overloaded")
    assert body["title"]
    assert "at most 2 at once" in body["detail"]
    assert int(refused.headers[b"content-length"]) == len(refused.messages[1]["body"])
    assert not refused.body_read  # no work done: not even the body was read
    assert app.started == 2
    app.release.set()
    for task, exchange in held:
        await task
        assert exchange.status == 201


async def test_slots_free_up_when_requests_end_even_when_they_fail() -> None:
    app = HeldApp()
    mw = middleware(app, payments=1)
    first, _ = await start(mw, "/deposit")
    _, refused = await start(mw, "/deposit")
    assert refused.status == 503
    app.release.set()
    await first

    async def boom(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("handler crashed")

    failing = AdmissionMiddleware(
        boom,  # type: ignore[arg-type]
        payments=mw._payments,
        callbacks=mw._callbacks,
    )
    with pytest.raises(RuntimeError):
        await failing(http("/deposit"), Exchange().receive, Exchange().send)  # type: ignore[arg-type]
    again, admitted = await start(mw, "/deposit")
    await again
    assert admitted.status == 201


async def test_other_routes_are_never_shed() -> None:
    app = HeldApp()
    mw = middleware(app, payments=1, callbacks=1)
    await start(mw, "/deposit")
    await start(mw, "/callback/paypal")
    others = [
        await start(mw, "/transactions", "GET"),
        await start(mw, "/deposit", "GET"),  # not a payment: the router answers 405
        await start(mw, "/users/1", "PUT"),
        await start(mw, "/sandbox/paypal/payments"),
    ]
    assert app.started == 6  # all reached the app
    app.release.set()
    for task, exchange in others:
        await task
        assert exchange.status == 201


async def test_callbacks_have_their_own_cap() -> None:
    app = HeldApp()
    mw = middleware(app, payments=1, callbacks=2)
    await start(mw, "/deposit")
    _, shed_payment = await start(mw, "/withdrawal")
    _, first = await start(mw, "/callback/paypal")
    _, second = await start(mw, "/callback/adyen")
    _, third = await start(mw, "/callback/stripe")
    assert shed_payment.status == 503
    assert (first.status, second.status) == (None, None)  # running
    assert third.status == 503
    assert b"callback" in third.messages[1]["body"]
    app.release.set()


async def test_a_cap_of_zero_admits_everything() -> None:
    app = HeldApp()
    mw = middleware(app, payments=0)
    for _ in range(50):
        await start(mw, "/deposit")
    assert app.started == 50
    app.release.set()


def test_the_default_cap_follows_the_database_pool_and_can_be_set() -> None:
    assert Settings(db_pool_max=10).payment_admission_limit == 160
    assert (
        Settings(db_pool_max=20).payment_admission_limit
        == 2 * Settings(db_pool_max=10).payment_admission_limit
    )
    derived = Settings()
    assert derived.callback_admission_limit > derived.payment_admission_limit
    settings = load_settings(
        {"PAYMENTS_MAX_INFLIGHT_PAYMENTS": "7", "PAYMENTS_MAX_INFLIGHT_CALLBACKS": "0"}
    )
    assert (settings.payment_admission_limit, settings.callback_admission_limit) == (7, 0)
    assert Settings().admission_max_lag_s == 0.05
    assert load_settings({"PAYMENTS_ADMISSION_MAX_LAG_MS": "0"}).admission_max_lag_s == 0


async def test_a_lagging_event_loop_sheds_payments_before_callbacks() -> None:
    """Out of CPU (the loop runs late) a worker sheds, however few requests it runs."""
    lag = 0.0
    app = HeldApp()
    mw = AdmissionMiddleware(
        app,
        payments=Gate("payment", 100, max_lag_s=0.05, lag=lambda: lag),
        callbacks=Gate("callback", 100, max_lag_s=0.1, lag=lambda: lag),
    )
    await start(mw, "/deposit")
    assert app.started == 1
    lag = 0.07  # behind: past the payments' threshold, not the callbacks'
    task, refused = await start(mw, "/deposit")
    await asyncio.wait_for(task, 1)
    assert refused.status == 503
    assert refused.headers[b"retry-after"] == b"1"
    await start(mw, "/callback/paypal")
    assert app.started == 2  # the callback still got in
    lag = 0.2
    task, refused = await start(mw, "/callback/paypal")
    await asyncio.wait_for(task, 1)
    assert refused.status == 503
    lag = 0.0  # caught up: admitted again at once
    await start(mw, "/deposit")
    assert app.started == 3
    app.release.set()


async def test_the_loop_lag_probe_reads_a_stalled_loop() -> None:
    from adapters.gateways.monitor import LoopLag

    probe = LoopLag(interval_s=0.01)
    probe.ensure_running()
    await asyncio.sleep(0.05)
    assert probe.lag_s() < 0.05
    import time

    time.sleep(0.12)  # noqa: ASYNC251 - block the loop on purpose: a stall going on
    assert probe.lag_s() >= 0.1
    await asyncio.sleep(0.1)  # ticks on time again: the smoothed lag decays
    assert probe.lag_s() < 0.05


@pytest.mark.parametrize("raw", ["-1", "2.5", "many"])
def test_a_cap_that_is_not_a_count_is_refused_at_start_up(raw: str) -> None:
    with pytest.raises(ValueError, match="PAYMENTS_MAX_INFLIGHT_PAYMENTS"):
        load_settings({"PAYMENTS_MAX_INFLIGHT_PAYMENTS": raw})


# -- through the real app ------------------------------------------------------
async def test_the_app_sheds_the_third_concurrent_deposit_and_admits_again_later(
    world: World,
) -> None:
    release = asyncio.Event()
    paypal = world.gateways["paypal"]
    answer = paypal.submit
    waiting: list[str] = []

    async def held(instruction: PaymentInstruction) -> GatewayResult:
        waiting.append(instruction.reference)
        await release.wait()  # the payment stays in flight until released
        return await answer(instruction)

    paypal.submit = held  # type: ignore[method-assign]
    app = create_app(world.container.settings().with_(max_inflight_payments=2), world.container)
    # httpx's ASGITransport runs requests concurrently on this loop (Litestar's
    # AsyncTestClient runs them one at a time in a portal).
    transport = httpx.ASGITransport(app=app)
    body = {"user_id": 1, "amount": "10.00", "currency": "USD"}
    async with (
        app.lifespan(),
        httpx.AsyncClient(transport=transport, base_url="http://t") as client,
    ):
        running = [
            asyncio.create_task(client.post("/deposit", json=body, headers=CLIENT)) for _ in "ab"
        ]
        for _ in range(200):  # until both are waiting on the gateway
            await asyncio.sleep(0.01)
            if len(waiting) == 2:
                break
        try:
            shed = await asyncio.wait_for(client.post("/deposit", json=body, headers=CLIENT), 5)
            assert shed.status_code == 503
            assert shed.headers["retry-after"] == "1"
            assert shed.headers["content-type"].startswith("application/problem+json")
            assert shed.json()["type"] == "/problems/overloaded"
            assert (await client.get("/transactions", headers=CLIENT)).status_code == 200
            metrics = (await client.get("/metrics")).text
            assert 'payments_http_shed_total{kind="payment"}' in metrics
        finally:
            release.set()
        assert [r.status_code for r in await asyncio.gather(*running)] == [201, 201]
        assert (await client.post("/deposit", json=body, headers=CLIENT)).status_code == 201
    assert len(paypal.received) == 3  # the shed deposit never reached a gateway
