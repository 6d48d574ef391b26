"""Every call the stripe_api adapter makes, against stripe-mock and against our emulation.

stripe-mock validates each request against Stripe's OpenAPI (a renamed or
unknown parameter gets 400), so a request it accepts is one Stripe would
accept. Our sandbox emulation must answer in a shape the adapter reads the
same way, or the demo would prove nothing about Stripe.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace

import httpx
import pytest
from litestar import Litestar
from litestar.datastructures import State

from adapters.gateways.stripe_family import STRIPE_API
from adapters.gateways.stripe_http import StripeProvider
from adapters.gateways.stripe_wire import (
    FORM,
    PAYMENT_INTENTS,
    SEARCH,
    decode_search,
    encode_form,
    search_query,
)
from adapters.gateways.wire_family import GatewaySetup
from application.ports import GatewayResult, GatewayStatus, PaymentInstruction
from domain.transaction import AttemptOutcome, TransactionType
from entrypoints.http.auth import ApiKeys, admin_guard
from entrypoints.sandbox.families import sandbox_routes
from entrypoints.sandbox.psp import Sandbox
from tests.integration.stripe_mock import stripe_mock_url  # noqa: F401

KEY = "sk_test_conformance"
DEPOSIT = PaymentInstruction("tx-c", "tx-c:1", TransactionType.DEPOSIT, 7, "12.34", 1234, "GBP")


@dataclass
class Backend:
    name: str
    provider: StripeProvider
    client: httpx.AsyncClient
    base_url: str
    sandbox: Sandbox | None = None
    answers: list[tuple[str, str, int]] = field(default_factory=list)

    def paid(self) -> None:
        """Let the deposit succeed (stripe-mock has no state; its fixtures refund anything)."""
        if self.sandbox is not None:
            self.sandbox.gateways["stripe"].payments[DEPOSIT.reference].status = "completed"


def _recording(answers: list[tuple[str, str, int]]) -> dict[str, list[object]]:
    async def record(response: httpx.Response) -> None:
        answers.append((response.request.method, response.request.url.path, response.status_code))

    return {"response": [record]}


@pytest.fixture
async def mock_backend(stripe_mock_url: str) -> AsyncIterator[Backend]:  # noqa: F811
    answers: list[tuple[str, str, int]] = []
    async with httpx.AsyncClient(event_hooks=_recording(answers), trust_env=False) as client:
        provider = StripeProvider("stripe", stripe_mock_url, client, secret_key=KEY)
        yield Backend("stripe-mock", provider, client, stripe_mock_url, answers=answers)


@pytest.fixture
async def emulation_backend() -> AsyncIterator[Backend]:
    sandbox = Sandbox({"stripe": "stripe_api"}, keys={"stripe": KEY})
    app = Litestar(
        route_handlers=sandbox_routes(sandbox, admin_guard),
        state=State({"api_keys": ApiKeys((), ("adm",))}),
    )
    answers: list[tuple[str, str, int]] = []
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), event_hooks=_recording(answers)
    ) as client:
        url = "http://sandbox.test/sandbox/stripe"
        provider = StripeProvider("stripe", url, client, secret_key=KEY)
        yield Backend("emulation", provider, client, url, sandbox, answers)


def _accepted_shape(result: GatewayResult, prefix: str) -> tuple[object, ...]:
    """What the dispatcher acts on, without the values a fixture makes up."""
    return (
        result.outcome,
        result.error_code,
        (result.reference_id or "").startswith(prefix),
        result.client_secret is not None and result.client_secret.startswith(prefix),
    )


def _status_shape(status: GatewayStatus, asked: str) -> tuple[object, ...]:
    return (
        status.found,
        status.status in ("processing", "completed"),
        status.reference_id == asked,
        isinstance(status.amount_minor, int) and status.amount_minor > 0,
        status.currency is not None and len(status.currency) == 3 and status.currency.isupper(),
    )


async def _every_call(backend: Backend) -> list[tuple[object, ...]]:
    """Deposit, its inquiry, a refund of it and the refund's inquiry; their parsed shapes."""
    deposit = await backend.provider.submit(DEPOSIT)
    assert deposit.reference_id is not None, f"{backend.name}: {deposit}"
    deposit_status = await backend.provider.inquire(DEPOSIT.reference, deposit.reference_id)
    backend.paid()
    refund = PaymentInstruction(
        "rf-c", "rf-c:1", TransactionType.REFUND, 7, "5.00", 500, "GBP", deposit.reference_id
    )
    refunded = await backend.provider.submit(refund)
    assert refunded.reference_id is not None, f"{backend.name}: {refunded}"
    refund_status = await backend.provider.inquire(refund.reference, refunded.reference_id)
    return [
        _accepted_shape(deposit, "pi_"),
        _status_shape(deposit_status, deposit.reference_id),
        (refunded.outcome, refunded.error_code, refunded.reference_id.startswith("re_")),
        _status_shape(refund_status, refunded.reference_id),
    ]


async def test_stripe_mock_accepts_every_request_the_adapter_sends(
    mock_backend: Backend,
) -> None:
    await _every_call(mock_backend)

    assert [(method, path) for method, path, _ in mock_backend.answers] == [
        ("POST", "/v1/payment_intents"),
        ("GET", f"/v1/payment_intents/{mock_backend.answers[1][1].rsplit('/', 1)[-1]}"),
        ("POST", "/v1/refunds"),
        ("GET", f"/v1/refunds/{mock_backend.answers[3][1].rsplit('/', 1)[-1]}"),
    ]
    assert [status for *_, status in mock_backend.answers] == [200, 200, 200, 200]


async def test_stripe_mock_and_the_emulation_answer_alike(
    mock_backend: Backend, emulation_backend: Backend
) -> None:
    from_mock = await _every_call(mock_backend)
    from_emulation = await _every_call(emulation_backend)

    assert from_mock == from_emulation
    assert from_mock[0] == (AttemptOutcome.ACCEPTED, None, True, True)
    assert [status for *_, status in emulation_backend.answers] == [200, 200, 200, 200]


async def test_the_search_for_a_lost_answer_is_accepted_and_read_alike(
    mock_backend: Backend, emulation_backend: Backend
) -> None:
    await emulation_backend.provider.submit(DEPOSIT)
    found = []
    for backend in (mock_backend, emulation_backend):
        response = await backend.client.get(
            f"{backend.base_url}/{SEARCH}",
            params={"query": search_query(DEPOSIT.reference)},
            headers={"Authorization": f"Bearer {KEY}"},
        )
        assert response.status_code == 200, (backend.name, response.text)
        [intent] = decode_search(response.content)
        found.append((intent.object, intent.id.startswith("pi_"), intent.final_status))

    assert found[0] == found[1] == ("payment_intent", True, "processing")


@pytest.mark.parametrize(
    "form",
    [
        {"amount_minor": "1234", "currency": "gbp"},  # a renamed parameter
        {"amount": "1234", "currency": "gbp", "transaction_id": "tx-c"},  # not in metadata
        {"amount": "12.34", "currency": "gbp"},  # not minor units
    ],
)
async def test_stripe_mock_and_the_emulation_refuse_what_stripe_would(
    mock_backend: Backend, emulation_backend: Backend, form: dict[str, str]
) -> None:
    for backend in (mock_backend, emulation_backend):
        response = await backend.client.post(
            f"{backend.base_url}/{PAYMENT_INTENTS}",
            content=encode_form(form),
            headers={"Authorization": f"Bearer {KEY}", "Content-Type": FORM},
        )
        assert response.status_code == 400, (backend.name, response.text)
        assert response.json()["error"]["type"] == "invalid_request_error"


async def test_the_health_probe_is_answered_by_stripe_mock_and_the_emulation(
    mock_backend: Backend, emulation_backend: Backend
) -> None:
    # Stripe has no /health: the family reads the balance with the secret key.
    for backend in (mock_backend, emulation_backend):
        setup = GatewaySetup("stripe", backend.base_url, KEY, (), "")
        probe = STRIPE_API.health_probe(setup)
        assert probe.url == f"{backend.base_url}/v1/balance"
        response = await backend.client.get(probe.url, headers=dict(probe.headers))
        assert response.status_code == 200, (backend.name, response.text)
        assert response.json()["object"] == "balance"
        unauthenticated = await backend.client.get(probe.url)
        assert unauthenticated.status_code == 401, backend.name


async def test_a_down_emulation_fails_the_health_probe(emulation_backend: Backend) -> None:
    assert emulation_backend.sandbox is not None
    emulation_backend.sandbox.gateways["stripe"].behaviour = replace(
        emulation_backend.sandbox.gateways["stripe"].behaviour, mode="down"
    )
    probe = STRIPE_API.health_probe(GatewaySetup("stripe", emulation_backend.base_url, KEY, (), ""))
    response = await emulation_backend.client.get(probe.url, headers=dict(probe.headers))
    assert response.status_code == 503
