"""The stripe_api adapter speaks Stripe's wire format and classifies every answer."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from litestar import Litestar
from litestar.datastructures import State

from adapters.gateways.families import FAMILIES
from adapters.gateways.stripe_http import StripeProvider
from application.ports import GatewayStatus, GatewayUnreachable, PaymentInstruction
from domain.transaction import AttemptOutcome, TransactionType
from entrypoints.http.auth import ApiKeys, admin_guard
from entrypoints.sandbox.families import sandbox_routes
from entrypoints.sandbox.psp import Mode, Sandbox, SandboxGateway

DEPOSIT = PaymentInstruction(
    transaction_id="tx-1",
    reference="tx-1:1",
    type=TransactionType.DEPOSIT,
    user_id=2,
    amount="12.34",
    amount_minor=1234,
    currency="GBP",
)
INTENT = {
    "id": "pi_1",
    "object": "payment_intent",
    "amount": 1234,
    "currency": "gbp",
    "status": "requires_payment_method",
    "client_secret": "pi_1_secret_x",
    "metadata": {"transaction_id": "tx-1", "reference": "tx-1:1"},
}


def provider(handler: Callable[[httpx.Request], httpx.Response]) -> StripeProvider:
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return StripeProvider("stripe", "https://api.stripe.test", client, secret_key="sk_test_1")


def answering(status: int, body: Any) -> StripeProvider:
    return provider(lambda _request: httpx.Response(status, json=body))


async def test_a_deposit_is_a_form_encoded_payment_intent_under_the_attempt_reference() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=INTENT)

    result = await provider(handler).submit(DEPOSIT)

    assert (result.outcome, result.reference_id) == (AttemptOutcome.ACCEPTED, "pi_1")
    assert result.client_secret == "pi_1_secret_x"
    sent = seen[0]
    assert (sent.method, str(sent.url)) == ("POST", "https://api.stripe.test/v1/payment_intents")
    assert sent.headers["idempotency-key"] == "tx-1:1"
    assert sent.headers["authorization"] == "Bearer sk_test_1"
    assert sent.headers["content-type"] == "application/x-www-form-urlencoded"
    form = dict(parse_qsl(sent.content.decode()))
    assert form["amount"] == "1234"
    assert form["currency"] == "gbp"
    assert form["metadata[transaction_id]"] == "tx-1"
    assert form["metadata[reference]"] == "tx-1:1"


async def test_a_refund_names_the_payment_intent_it_gives_back() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        refund = {"id": "re_1", "object": "refund", "amount": 500, "currency": "gbp"}
        return httpx.Response(200, json={**refund, "status": "pending"})

    refund = PaymentInstruction(
        "rf-1", "rf-1:1", TransactionType.REFUND, 2, "5.00", 500, "GBP", parent_reference="pi_1"
    )
    result = await provider(handler).submit(refund)

    assert (result.outcome, result.reference_id, result.completed) == (
        AttemptOutcome.ACCEPTED,
        "re_1",
        False,
    )
    assert str(seen[0].url) == "https://api.stripe.test/v1/refunds"
    form = dict(parse_qsl(seen[0].content.decode()))
    assert (form["payment_intent"], form["amount"]) == ("pi_1", "500")
    assert form["metadata[transaction_id]"] == "rf-1"


@pytest.mark.parametrize(
    ("status", "error", "outcome", "code"),
    [
        (
            402,
            {"type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds"},
            AttemptOutcome.DECLINED,
            "insufficient_funds",
        ),
        (
            429,
            {"type": "invalid_request_error", "code": "rate_limit"},
            AttemptOutcome.TRANSIENT,
            "rate_limit",
        ),
        (500, {"type": "api_error"}, AttemptOutcome.TRANSIENT, "api_error"),
        (502, {"type": "api_error"}, AttemptOutcome.TRANSIENT, "api_error"),
        (503, {"type": "api_error"}, AttemptOutcome.TRANSIENT, "api_error"),
        (409, {"type": "idempotency_error"}, AttemptOutcome.TRANSIENT, "idempotency_error"),
        (401, {"type": "invalid_request_error"}, AttemptOutcome.NOT_SENT, "invalid_request_error"),
        (
            400,
            {"type": "invalid_request_error", "code": "parameter_unknown"},
            AttemptOutcome.DECLINED,
            "parameter_unknown",
        ),
    ],
)
async def test_stripe_error_objects_map_to_outcome_classes(
    status: int, error: dict[str, str], outcome: AttemptOutcome, code: str
) -> None:
    result = await answering(status, {"error": error}).submit(DEPOSIT)

    assert (result.outcome, result.error_code) == (outcome, code)


async def test_a_5xx_without_an_error_object_is_still_transient() -> None:
    result = await provider(lambda _r: httpx.Response(504, content=b"<html>")).submit(DEPOSIT)

    assert (result.outcome, result.error_code) == (AttemptOutcome.TRANSIENT, "http_504")


@pytest.mark.parametrize(
    ("exc", "outcome"),
    [
        (httpx.ConnectError("refused"), AttemptOutcome.NOT_SENT),
        (httpx.ReadTimeout("slow"), AttemptOutcome.AMBIGUOUS),
    ],
)
async def test_connection_failures_are_not_sent_and_timeouts_ambiguous(
    exc: httpx.HTTPError, outcome: AttemptOutcome
) -> None:
    def handler(_request: httpx.Request) -> httpx.Response:
        raise exc

    assert (await provider(handler).submit(DEPOSIT)).outcome is outcome


@pytest.mark.parametrize("body", [b"not json", json.dumps({**INTENT, "object": "refund"}).encode()])
async def test_an_unreadable_or_unexpected_success_is_ambiguous(body: bytes) -> None:
    result = await provider(lambda _r: httpx.Response(200, content=body)).submit(DEPOSIT)

    assert result.outcome is AttemptOutcome.AMBIGUOUS


async def test_the_family_offers_no_payouts_and_sends_none() -> None:
    calls: list[httpx.Request] = []
    payout = PaymentInstruction("w-1", "w-1:1", TransactionType.WITHDRAWAL, 2, "1.00", 100, "GBP")

    result = await provider(lambda r: calls.append(r) or httpx.Response(200)).submit(payout)

    assert not FAMILIES.get("stripe_api").offers(TransactionType.WITHDRAWAL)
    assert FAMILIES.get("stripe_api").offers(TransactionType.DEPOSIT)
    assert FAMILIES.get("json").offers(TransactionType.WITHDRAWAL)
    assert (result.outcome, calls) == (AttemptOutcome.NOT_SENT, [])


async def test_inquiry_gets_the_payment_intent_by_its_id() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={**INTENT, "status": "succeeded"})

    status = await provider(handler).inquire("tx-1:1", "pi_1")

    assert str(seen[0].url) == "https://api.stripe.test/v1/payment_intents/pi_1"
    assert status == GatewayStatus(
        found=True, status="completed", reference_id="pi_1", amount_minor=1234, currency="GBP"
    )


async def test_inquiry_without_a_stripe_id_searches_by_our_reference() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("/search"):
            return httpx.Response(200, json={"object": "search_result", "data": [INTENT]})
        return httpx.Response(200, json=INTENT)

    status = await provider(handler).inquire("tx-1:1", None)

    assert seen[0].url.path == "/v1/payment_intents/search"
    assert seen[0].url.params["query"] == "metadata['reference']:'tx-1:1'"
    assert seen[1].url.path == "/v1/payment_intents/pi_1"
    assert (status.found, status.reference_id) == (True, "pi_1")


@pytest.mark.parametrize(
    "data",
    [[], [{**INTENT, "metadata": {}}], [INTENT, {**INTENT, "id": "pi_2"}]],
)
async def test_a_search_finding_nothing_of_ours_is_unreachable_not_never_received(
    data: list[dict[str, Any]],
) -> None:
    # Stripe's search lags behind writes and cannot find refunds: absence proves nothing.
    found = answering(200, {"object": "search_result", "data": data})
    with pytest.raises(GatewayUnreachable, match="no Stripe object"):
        await found.inquire("tx-1:1", None)


async def test_inquiry_resource_missing_means_never_received() -> None:
    missing = {"error": {"type": "invalid_request_error", "code": "resource_missing"}}

    assert await answering(404, missing).inquire("tx-1:1", "pi_1") == GatewayStatus(found=False)


@pytest.mark.parametrize(
    "body",
    [
        {**INTENT, "id": "pi_other"},
        {**INTENT, "metadata": {"reference": "tx-9:1"}},
        {**INTENT, "amount": 0},
    ],
)
async def test_inquiry_answers_about_another_payment_are_unreachable(body: dict[str, Any]) -> None:
    with pytest.raises(GatewayUnreachable):
        await answering(200, body).inquire("tx-1:1", "pi_1")


# -- against the sandbox's emulation (no sockets) -------------------------------------

MERCHANT_KEY = "sk_test_unit"


class StripePsp:
    def __init__(self, sandbox: Sandbox, client: httpx.AsyncClient) -> None:
        self.sandbox = sandbox
        self.stripe = StripeProvider(
            "stripe", "http://sandbox.test/sandbox/stripe", client, secret_key=MERCHANT_KEY
        )

    @property
    def gateway(self) -> SandboxGateway:
        return self.sandbox.gateways["stripe"]


@pytest.fixture
async def stripe_psp() -> AsyncIterator[StripePsp]:
    sandbox = Sandbox({"stripe": "stripe_api"}, keys={"stripe": MERCHANT_KEY})
    app = Litestar(
        route_handlers=sandbox_routes(sandbox, admin_guard),
        state=State({"api_keys": ApiKeys((), ("adm",))}),
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox.test") as client:
        yield StripePsp(sandbox, client)


async def test_the_emulation_keeps_one_payment_intent_per_idempotency_key(
    stripe_psp: StripePsp,
) -> None:
    first = await stripe_psp.stripe.submit(DEPOSIT)
    again = await stripe_psp.stripe.submit(DEPOSIT)

    assert first.outcome is AttemptOutcome.ACCEPTED
    assert first.reference_id is not None
    assert first.reference_id.startswith("pi_")
    assert again.reference_id == first.reference_id
    assert first.client_secret is not None
    assert first.client_secret.startswith(f"{first.reference_id}_secret_")
    assert [p.amount for p in stripe_psp.gateway.ledger()] == ["12.34"]


async def test_the_emulation_inquiry_follows_the_payment(stripe_psp: StripePsp) -> None:
    sent = await stripe_psp.stripe.submit(DEPOSIT)
    assert (await stripe_psp.stripe.inquire("tx-1:1", sent.reference_id)).status == "processing"

    stripe_psp.gateway.payments["tx-1:1"].status = "completed"
    done = await stripe_psp.stripe.inquire("tx-1:1", sent.reference_id)

    assert (done.status, done.amount_minor, done.currency) == ("completed", 1234, "GBP")
    missing = await stripe_psp.stripe.inquire("tx-1:1", "pi_ST0000000000")
    assert missing == GatewayStatus(found=False)
    # An attempt whose answer was lost is found by its reference.
    searched = await stripe_psp.stripe.inquire("tx-1:1", None)
    assert (searched.reference_id, searched.status) == (sent.reference_id, "completed")
    with pytest.raises(GatewayUnreachable):
        await stripe_psp.stripe.inquire("tx-9:1", None)


async def test_the_emulation_refunds_a_succeeded_payment_intent(stripe_psp: StripePsp) -> None:
    sent = await stripe_psp.stripe.submit(DEPOSIT)
    stripe_psp.gateway.payments["tx-1:1"].status = "completed"
    refund = PaymentInstruction(
        "rf-1", "rf-1:1", TransactionType.REFUND, 2, "5.00", 500, "GBP", sent.reference_id
    )

    result = await stripe_psp.stripe.submit(refund)

    assert result.outcome is AttemptOutcome.ACCEPTED
    assert result.reference_id is not None
    assert result.reference_id.startswith("re_")
    status = await stripe_psp.stripe.inquire("rf-1:1", result.reference_id)
    assert (status.status, status.amount_minor) == ("processing", 500)


@pytest.mark.parametrize(
    ("mode", "outcome"),
    [
        ("decline", AttemptOutcome.DECLINED),
        ("rate_limit", AttemptOutcome.TRANSIENT),
        ("error", AttemptOutcome.TRANSIENT),
        ("down", AttemptOutcome.TRANSIENT),
    ],
)
async def test_the_emulation_fault_modes_land_in_their_outcome_classes(
    stripe_psp: StripePsp, mode: Mode, outcome: AttemptOutcome
) -> None:
    stripe_psp.gateway.behaviour.mode = mode

    result = await stripe_psp.stripe.submit(DEPOSIT)

    assert result.outcome is outcome
    assert list(stripe_psp.gateway.ledger()) == []


async def test_the_emulation_refuses_a_caller_without_the_secret_key(
    stripe_psp: StripePsp,
) -> None:
    stranger = StripeProvider(
        "stripe", "http://sandbox.test/sandbox/stripe", stripe_psp.stripe._client, "sk_wrong"
    )

    result = await stranger.submit(DEPOSIT)

    assert (result.outcome, list(stripe_psp.gateway.ledger())) == (AttemptOutcome.NOT_SENT, [])
