"""The JSON gateway adapter classifies every answer and failure (httpx.MockTransport)."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from adapters.gateways.json_http import JsonGatewayProvider
from application.ports import PaymentInstruction
from domain.transaction import AttemptOutcome, TransactionType

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
