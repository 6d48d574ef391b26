"""Refunds on the wire: both adapters against their sandbox PSP in-process, and callbacks."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest
import xmltodict
from litestar import Litestar
from litestar.datastructures import State

from adapters.gateways.json_callbacks import JsonCallbackVerifier
from adapters.gateways.json_http import JsonGatewayProvider
from adapters.gateways.soap_callbacks import AdyenCallbackVerifier
from adapters.gateways.soap_http import DEFAULT_MERCHANT_ACCOUNT, SoapGatewayProvider
from application.ports import PaymentInstruction
from domain.transaction import AttemptOutcome, TransactionType
from entrypoints.http.auth import ApiKeys, admin_guard
from entrypoints.sandbox.families import sandbox_routes
from entrypoints.sandbox.family import SettledPayment
from entrypoints.sandbox.json_psp import json_callback
from entrypoints.sandbox.psp import Behaviour, PaymentOrder, Sandbox
from entrypoints.sandbox.soap_psp import soap_callback

KEYS = {"paypal": "sk_unit_paypal", "adyen": "AQE_unit_adyen"}
HMAC_KEY = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056"

DEPOSIT = PaymentInstruction(
    transaction_id="dep-1",
    reference="dep-1:1",
    type=TransactionType.DEPOSIT,
    user_id=7,
    amount="100.00",
    amount_minor=10000,
    currency="EUR",
)


def refund_of(psp_reference: str | None, amount: str = "40.00") -> PaymentInstruction:
    minor = int(amount.replace(".", ""))
    return PaymentInstruction(
        transaction_id="ref-1",
        reference="ref-1:1",
        type=TransactionType.REFUND,
        user_id=7,
        amount=amount,
        amount_minor=minor,
        currency="EUR",
        parent_reference=psp_reference,
    )


class Psps:
    def __init__(self, sandbox: Sandbox, client: httpx.AsyncClient) -> None:
        self.sandbox = sandbox
        self.providers = {
            "paypal": JsonGatewayProvider(
                "paypal", "http://sb.test/sandbox/paypal", client, merchant_key=KEYS["paypal"]
            ),
            "adyen": SoapGatewayProvider(
                "adyen", "http://sb.test/sandbox/adyen", client, merchant_key=KEYS["adyen"]
            ),
        }


@pytest.fixture
async def psps() -> AsyncIterator[Psps]:
    sandbox = Sandbox({"paypal": "json", "adyen": "soap"}, keys=KEYS)
    app = Litestar(
        route_handlers=sandbox_routes(sandbox, admin_guard),
        state=State({"api_keys": ApiKeys((), ("adm",))}),
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sb.test"
    ) as client:
        yield Psps(sandbox, client)


async def completed(psps: Psps, gateway: str) -> str:
    taken = await psps.providers[gateway].submit(DEPOSIT)
    assert taken.reference_id is not None
    psps.sandbox.gateways[gateway].payments["dep-1:1"].status = "completed"
    return taken.reference_id


@pytest.mark.parametrize("gateway", ["paypal", "adyen"])
async def test_a_refund_is_recorded_at_the_psp_as_its_own_payment(psps: Psps, gateway: str) -> None:
    psp_reference = await completed(psps, gateway)
    result = await psps.providers[gateway].submit(refund_of(psp_reference))
    assert result.outcome is AttemptOutcome.ACCEPTED
    recorded = psps.sandbox.gateways[gateway].payments["ref-1:1"]
    assert (recorded.type, recorded.transaction_id, recorded.amount, recorded.user_id) == (
        "refund",
        "ref-1",
        "40.00",
        7,
    )
    assert result.reference_id == recorded.psp_id != psp_reference
    assert result.redirect_url is None
    # The status inquiry follows the refund by its own reference.
    status = await psps.providers[gateway].inquire("ref-1:1")
    assert (status.found, status.status, status.amount_minor) == (True, "processing", 4000)


@pytest.mark.parametrize("gateway", ["paypal", "adyen"])
async def test_the_psp_refuses_a_refund_of_what_it_did_not_complete(
    psps: Psps, gateway: str
) -> None:
    taken = await psps.providers[gateway].submit(DEPOSIT)  # still processing
    result = await psps.providers[gateway].submit(refund_of(taken.reference_id))
    assert result.outcome is AttemptOutcome.DECLINED
    too_much = await psps.providers[gateway].submit(
        replace(refund_of(await completed(psps, gateway), "100.01"), reference="ref-1:2")
    )
    assert too_much.outcome is AttemptOutcome.DECLINED
    assert "ref-1:1" not in psps.sandbox.gateways[gateway].payments


@pytest.mark.parametrize(
    ("mode", "outcome"),
    [
        ("decline", AttemptOutcome.DECLINED),
        ("down", AttemptOutcome.NOT_SENT),
        ("error", AttemptOutcome.TRANSIENT),
    ],
)
@pytest.mark.parametrize("gateway", ["paypal", "adyen"])
async def test_refunds_follow_the_behaviour_modes(
    psps: Psps, gateway: str, mode: str, outcome: AttemptOutcome
) -> None:
    psp_reference = await completed(psps, gateway)
    psps.sandbox.gateways[gateway].behaviour = Behaviour(mode=mode)  # type: ignore[arg-type]
    result = await psps.providers[gateway].submit(refund_of(psp_reference))
    assert result.outcome is outcome


async def test_the_json_refund_call_names_the_payment_given_back() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json={"id": "PA-R", "status": "processing"})

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    await JsonGatewayProvider("paypal", "http://psp.test", client).submit(refund_of("PA-1"))
    assert seen[0].url == "http://psp.test/refunds"
    assert seen[0].headers["idempotency-key"] == "ref-1:1"
    assert json.loads(seen[0].content) == {
        "reference": "ref-1:1",
        "transaction_id": "ref-1",
        "payment_id": "PA-1",
        "amount": "40.00",
        "currency": "EUR",
    }


async def test_the_soap_refund_is_adyens_refund_modification() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(500)

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    await SoapGatewayProvider("adyen", "http://psp.test", client).submit(refund_of("8815"))
    assert seen[0].headers["soapaction"] == '"refund"'
    body = xmltodict.parse(seen[0].content, process_namespaces=False)
    request = body["soap:Envelope"]["soap:Body"]["refund"]["modificationRequest"]
    assert request["originalReference"] == "8815"
    assert request["modificationAmount"] == {"currency": "EUR", "value": "4000"}
    assert request["reference"] == "ref-1:1"


def _settled(gateway: str, status: str, secrets: list[str]) -> SettledPayment:
    sandbox = Sandbox({gateway: "json" if gateway == "paypal" else "soap"})
    gw = sandbox.gateways[gateway]
    payment, _ = gw.record(PaymentOrder("ref-1:1", "ref-1", "refund", "40.00", "EUR", 7))
    payment.status = status
    return SettledPayment(payment, "evt_1", secrets, DEFAULT_MERCHANT_ACCOUNT)


@pytest.mark.parametrize("status", ["completed", "failed"])
def test_the_refund_callbacks_verify_and_name_the_refund(status: str) -> None:
    body, headers = soap_callback(_settled("adyen", status, [HMAC_KEY]))
    assert b"<eventCode>REFUND</eventCode>" in body
    (soap,) = AdyenCallbackVerifier("adyen", [HMAC_KEY]).verify(headers, body)
    assert (soap.transaction_id, soap.status, soap.amount_minor) == ("ref-1", status, 4000)

    settled = _settled("paypal", status, ["whsec_unit"])
    body, headers = json_callback(settled)
    (js,) = JsonCallbackVerifier("paypal", ["whsec_unit"]).verify(headers, body)
    assert (js.transaction_id, js.status, js.reference_id) == (
        "ref-1",
        status,
        settled.payment.psp_id,
    )
