"""The JSON gateway adapter classifies every answer and failure (httpx.MockTransport)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.datastructures import State

from adapters.gateways.json_http import JsonGatewayProvider
from application.ports import GatewayStatus, GatewayUnreachable, PaymentInstruction
from domain.transaction import AttemptOutcome, TransactionType
from entrypoints.http.auth import ApiKeys, admin_guard
from entrypoints.sandbox.families import sandbox_routes
from entrypoints.sandbox.psp import Mode, Sandbox, SandboxGateway

INSTRUCTION = PaymentInstruction(
    transaction_id="tx-1",
    reference="tx-1:1",
    type=TransactionType.DEPOSIT,
    user_id=1,
    amount="10.00",
    amount_minor=1000,
    currency="USD",
)


def provider(handler: Callable[[httpx.Request], httpx.Response]) -> JsonGatewayProvider:
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return JsonGatewayProvider("paypal", "http://psp.test/sandbox/paypal", client)


async def test_sends_the_reference_as_idempotency_key_and_the_exact_amount() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json={"id": "PP-1", "status": "processing", "redirect_url": "u"})

    result = await provider(handler).submit(INSTRUCTION)
    assert result.outcome is AttemptOutcome.ACCEPTED
    assert (result.reference_id, result.redirect_url) == ("PP-1", "u")
    assert seen[0].url == "http://psp.test/sandbox/paypal/payments"
    assert seen[0].headers["idempotency-key"] == "tx-1:1"
    assert json.loads(seen[0].content)["amount"] == "10.00"


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (402, AttemptOutcome.DECLINED),
        (422, AttemptOutcome.DECLINED),
        (429, AttemptOutcome.TRANSIENT),
        (500, AttemptOutcome.TRANSIENT),
        (503, AttemptOutcome.NOT_SENT),
        (502, AttemptOutcome.AMBIGUOUS),
        (504, AttemptOutcome.AMBIGUOUS),
    ],
)
async def test_statuses_map_to_outcome_classes(status: int, outcome: AttemptOutcome) -> None:
    result = await provider(
        lambda _: httpx.Response(status, json={"error": {"code": "x", "message": "m"}})
    ).submit(INSTRUCTION)
    assert result.outcome is outcome
    assert result.error_code == "x"


@pytest.mark.parametrize(
    ("exc", "outcome"),
    [
        (httpx.ConnectError("refused"), AttemptOutcome.NOT_SENT),
        (httpx.ConnectTimeout("slow"), AttemptOutcome.NOT_SENT),
        (httpx.PoolTimeout("busy"), AttemptOutcome.NOT_SENT),
        (httpx.ReadTimeout("late"), AttemptOutcome.AMBIGUOUS),
        (httpx.RemoteProtocolError("reset"), AttemptOutcome.AMBIGUOUS),
        (httpx.ReadError("reset"), AttemptOutcome.AMBIGUOUS),
    ],
)
async def test_transport_failures_map_to_outcome_classes(
    exc: httpx.HTTPError, outcome: AttemptOutcome
) -> None:
    def handler(_: httpx.Request) -> httpx.Response:
        raise exc

    assert (await provider(handler).submit(INSTRUCTION)).outcome is outcome


async def test_an_unreadable_success_is_ambiguous_not_a_failure() -> None:
    result = await provider(lambda _: httpx.Response(201, content=b"<html>")).submit(INSTRUCTION)
    assert result.outcome is AttemptOutcome.AMBIGUOUS


async def test_a_refusal_without_a_json_body_still_classifies() -> None:
    result = await provider(lambda _: httpx.Response(402, content=b"nope")).submit(INSTRUCTION)
    assert result.outcome is AttemptOutcome.DECLINED
    assert result.error_code == "http_402"


async def test_synchronous_completion_is_reported() -> None:
    result = await provider(
        lambda _: httpx.Response(200, json={"id": "P", "status": "completed"})
    ).submit(INSTRUCTION)
    assert result.completed


# -- status inquiry ---------------------------------------------------------------
PAYMENT_VIEW: dict[str, Any] = {
    "id": "PP-7",
    "reference": "tx-1:1",
    "transaction_id": "tx-1",
    "type": "deposit",
    "amount": "10.00",
    "currency": "USD",
    "user_id": 1,
    "status": "completed",
    "created_at": "2024-01-01T00:00:00+00:00",
}


async def test_inquiry_gets_the_quoted_reference_and_reads_the_payment() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=PAYMENT_VIEW)

    status = await provider(handler).inquire("tx-1:1")

    assert status == GatewayStatus(
        found=True, status="completed", reference_id="PP-7", amount_minor=1000, currency="USD"
    )
    assert seen[0].method == "GET"
    assert seen[0].url.raw_path == b"/sandbox/paypal/payments/tx-1%3A1"
    assert "idempotency-key" not in seen[0].headers


async def test_inquiry_reads_the_currency_exponent() -> None:
    body = PAYMENT_VIEW | {"amount": "1.234", "currency": "BHD", "status": "processing"}
    status = await provider(lambda _: httpx.Response(200, json=body)).inquire("tx-1:1")
    assert (status.status, status.amount_minor, status.currency) == ("processing", 1234, "BHD")


async def test_inquiry_payment_not_found_means_never_received() -> None:
    body = {"error": {"code": "payment_not_found", "message": "x"}}
    status = await provider(lambda _: httpx.Response(404, json=body)).inquire("r:1")
    assert status == GatewayStatus(found=False)


async def test_a_bare_404_is_not_proof_of_absence() -> None:
    with pytest.raises(GatewayUnreachable):
        await provider(lambda _: httpx.Response(404, json={"detail": "x"})).inquire("r:1")


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429, 401, 201, 204])
async def test_inquiry_other_statuses_are_unreachable(status: int) -> None:
    with pytest.raises(GatewayUnreachable):
        await provider(lambda _: httpx.Response(status, json=PAYMENT_VIEW)).inquire("tx-1:1")


@pytest.mark.parametrize(
    "exc",
    [httpx.ConnectError("refused"), httpx.ReadTimeout("late"), httpx.RemoteProtocolError("x")],
)
async def test_inquiry_transport_failures_are_unreachable(exc: httpx.HTTPError) -> None:
    def handler(_: httpx.Request) -> httpx.Response:
        raise exc

    with pytest.raises(GatewayUnreachable) as info:
        await provider(handler).inquire("tx-1:1")
    assert info.value.__cause__ is exc


@pytest.mark.parametrize(
    "content",
    [
        b"<html>",
        b"",
        json.dumps(PAYMENT_VIEW | {"status": "pending"}).encode(),
        json.dumps(PAYMENT_VIEW | {"status": None}).encode(),
        json.dumps({k: v for k, v in PAYMENT_VIEW.items() if k != "id"}).encode(),
        json.dumps(PAYMENT_VIEW | {"amount": 10}).encode(),
        json.dumps(PAYMENT_VIEW | {"amount": "10.001"}).encode(),
        json.dumps(PAYMENT_VIEW | {"amount": "-1.00"}).encode(),
        json.dumps(PAYMENT_VIEW | {"currency": "XXX"}).encode(),
        json.dumps(PAYMENT_VIEW | {"reference": "tx-9:1"}).encode(),
    ],
    ids=[
        "html",
        "empty",
        "unknown-status",
        "null-status",
        "no-id",
        "numeric-amount",
        "too-many-decimals",
        "negative-amount",
        "unknown-currency",
        "other-reference",
    ],
)
async def test_inquiry_unusable_answers_are_unreachable(content: bytes) -> None:
    with pytest.raises(GatewayUnreachable):
        await provider(lambda _: httpx.Response(200, content=content)).inquire("tx-1:1")


# -- inquiry round trips against the JSON sandbox ------------------------------------
MERCHANT_KEY = "sk_unit_paypal"  # the sandbox serves only its merchant


class JsonPsp:
    """The JSON sandbox app and an adapter wired to it without sockets."""

    def __init__(self, sandbox: Sandbox, client: httpx.AsyncClient) -> None:
        self.sandbox = sandbox
        self.paypal = JsonGatewayProvider(
            "paypal", "http://sandbox.test/sandbox/paypal", client, merchant_key=MERCHANT_KEY
        )

    @property
    def gateway(self) -> SandboxGateway:
        return self.sandbox.gateways["paypal"]


@pytest.fixture
async def json_psp() -> AsyncIterator[JsonPsp]:
    sandbox = Sandbox({"paypal": "json"}, keys={"paypal": MERCHANT_KEY})
    app = Litestar(
        route_handlers=sandbox_routes(sandbox, admin_guard),
        state=State({"api_keys": ApiKeys((), ("adm",))}),
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox.test") as client:
        yield JsonPsp(sandbox, client)


async def test_round_trip_inquiry_follows_the_payment(json_psp: JsonPsp) -> None:
    sent = await json_psp.paypal.submit(INSTRUCTION)

    processing = await json_psp.paypal.inquire("tx-1:1")
    assert processing == GatewayStatus(
        found=True,
        status="processing",
        reference_id=sent.reference_id,
        amount_minor=1000,
        currency="USD",
    )
    json_psp.gateway.payments["tx-1:1"].status = "completed"
    completed = await json_psp.paypal.inquire("tx-1:1")
    assert (completed.status, completed.amount_minor) == ("completed", 1000)
    # Inquiries are lookups, not payment requests.
    assert (json_psp.gateway.requests, json_psp.gateway.lookups) == (1, 2)


async def test_round_trip_inquiry_of_an_unknown_reference(json_psp: JsonPsp) -> None:
    assert await json_psp.paypal.inquire("tx-9:1") == GatewayStatus(found=False)


@pytest.mark.parametrize("mode", ["error", "decline", "timeout"])
async def test_round_trip_inquiry_ignores_payment_path_modes(json_psp: JsonPsp, mode: Mode) -> None:
    await json_psp.paypal.submit(INSTRUCTION)
    json_psp.gateway.behaviour.mode = mode

    assert (await json_psp.paypal.inquire("tx-1:1")).status == "processing"


async def test_round_trip_inquiry_of_a_down_gateway_is_unreachable(json_psp: JsonPsp) -> None:
    await json_psp.paypal.submit(INSTRUCTION)
    json_psp.gateway.behaviour.mode = "down"

    with pytest.raises(GatewayUnreachable, match="503"):
        await json_psp.paypal.inquire("tx-1:1")
