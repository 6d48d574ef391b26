"""A sandbox PSP serves gateway-side calls only to its merchant (its ``PAYMENTS_GATEWAY_KEY``).

JSON family: ``Authorization: Bearer <key>``; SOAP family: ``X-API-Key: <key>``.
Without it, or with anything else, the answer is 401 and nothing is recorded,
counted or called back. Health and the admin control routes are unchanged.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from litestar import Litestar
from litestar.datastructures import State

from entrypoints.http.auth import ApiKeys, admin_guard
from entrypoints.sandbox.families import sandbox_routes
from entrypoints.sandbox.psp import (
    Format,
    Gateways,
    Mode,
    PspGateway,
    Sandbox,
    SandboxPayment,
)
from entrypoints.sandbox.shared import SharedSandbox, create_state

ADMIN_KEY = "adm"
KEYS = {"paypal": "sk_paypal_merchant", "stripe": "sk_stripe_merchant", "adyen": "AQE_adyen"}
PAYPAL = {"Authorization": f"Bearer {KEYS['paypal']}"}
ADYEN = {"X-API-Key": KEYS["adyen"], "Content-Type": "text/xml; charset=utf-8"}
SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
ADYEN_NS = "http://payment.services.adyen.com"
PAYMENT = {
    "reference": "tx-1:1",
    "transaction_id": "tx-1",
    "type": "deposit",
    "amount": "0.01",
    "currency": "USD",
    "user_id": 1,
}
NOT_PAYPALS_KEY = {
    "none": {},
    "wrong": {"Authorization": "Bearer sk_guess"},
    "empty": {"Authorization": "Bearer"},
    "other-gateway": {"Authorization": f"Bearer {KEYS['stripe']}"},
    "admin-key": {"Authorization": f"Bearer {ADMIN_KEY}"},
    "basic-scheme": {"Authorization": f"Basic {KEYS['paypal']}"},
    "soap-header": {"X-API-Key": KEYS["paypal"]},
}
NOT_ADYENS_KEY = {
    "none": {},
    "wrong": {"X-API-Key": "AQE_guess"},
    "other-gateway": {"X-API-Key": KEYS["paypal"]},
    "bearer-instead": {"Authorization": f"Bearer {KEYS['adyen']}"},
}


def soap(operation: str) -> bytes:
    return (
        f'<soap:Envelope xmlns:soap="{SOAP_NS}"><soap:Body>{operation}</soap:Body></soap:Envelope>'
    ).encode()


AUTHORISE = soap(
    f'<authorise xmlns="{ADYEN_NS}"><paymentRequest><reference>tx-2:1</reference>'
    "<amount><currency>EUR</currency><value>1</value></amount>"
    "<shopperReference>3</shopperReference><additionalData><entry>"
    "<key>transactionId</key><value>tx-2</value></entry></additionalData>"
    "</paymentRequest></authorise>"
)
STATUS = soap(
    f'<getPaymentStatus xmlns="{ADYEN_NS}"><statusRequest><reference>tx-2:1</reference>'
    "</statusRequest></getPaymentStatus>"
)


@dataclass
class Psp:
    sandbox: Gateways
    client: httpx.AsyncClient
    called_back: list[str] = field(default_factory=list)

    def gateway(self, gateway_id: str) -> PspGateway:
        gw = self.sandbox.get(gateway_id)
        assert gw is not None
        return gw

    def ledger(self, gateway_id: str) -> list[str]:
        return [p.reference for p in self.gateway(gateway_id).ledger()]


def _app(sandbox: Gateways) -> Litestar:
    return Litestar(
        route_handlers=sandbox_routes(sandbox, admin_guard),
        state=State({"api_keys": ApiKeys((), (ADMIN_KEY,))}),
    )


@pytest.fixture
def state_file(tmp_path: Path) -> Path:
    path = tmp_path / "state.sqlite3"
    create_state(path, list(KEYS))
    return path


@pytest.fixture(params=["memory", "shared"])
async def psp(request: pytest.FixtureRequest, state_file: Path) -> AsyncIterator[Psp]:
    """The sandbox in one process's memory, and over the file ``--workers N`` share."""
    called_back: list[str] = []

    def hook(_gw: PspGateway, payment: SandboxPayment, _mode: Mode) -> None:
        called_back.append(payment.reference)

    formats: dict[str, Format] = {"paypal": "json", "stripe": "json", "adyen": "soap"}
    sandbox: Gateways
    if request.param == "memory":
        sandbox = Sandbox(formats, on_new_payment=hook, keys=KEYS)
    else:
        sandbox = SharedSandbox(state_file, formats, on_new_payment=hook, keys=KEYS)
    transport = httpx.ASGITransport(app=_app(sandbox))
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox.test") as client:
        yield Psp(sandbox, client, called_back)
    if isinstance(sandbox, SharedSandbox):
        sandbox.close()


# -- the JSON family ------------------------------------------------------------------
@pytest.mark.parametrize("headers", NOT_PAYPALS_KEY.values(), ids=NOT_PAYPALS_KEY.keys())
async def test_a_json_payment_without_the_merchant_key_is_refused_and_not_recorded(
    psp: Psp, headers: dict[str, str]
) -> None:
    answer = await psp.client.post("/sandbox/paypal/payments", json=PAYMENT, headers=headers)

    assert answer.status_code == 401, answer.text
    assert answer.json()["error"]["code"] == "unauthorized"
    assert answer.headers["www-authenticate"] == "Bearer"
    assert psp.ledger("paypal") == []
    assert psp.gateway("paypal").requests == 0  # never reached the payment path
    assert psp.called_back == []


async def test_a_credential_that_is_not_ascii_is_refused_not_a_server_error(psp: Psp) -> None:
    headers = [(b"authorization", b"Bearer sk_\xe9"), (b"x-api-key", b"AQE_\xff")]
    answer = await psp.client.post("/sandbox/paypal/payments", json=PAYMENT, headers=headers)
    assert answer.status_code == 401
    answer = await psp.client.post("/sandbox/adyen/soap", content=AUTHORISE, headers=headers)
    assert answer.status_code == 401


async def test_a_json_payment_is_refused_before_its_body_is_read(psp: Psp) -> None:
    answer = await psp.client.post(
        "/sandbox/paypal/payments",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 401


async def test_a_json_payment_with_the_merchant_key_is_taken(psp: Psp) -> None:
    answer = await psp.client.post("/sandbox/paypal/payments", json=PAYMENT, headers=PAYPAL)

    assert answer.status_code == 201, answer.text
    assert psp.ledger("paypal") == ["tx-1:1"]
    assert psp.called_back == ["tx-1:1"]


@pytest.mark.parametrize("headers", NOT_PAYPALS_KEY.values(), ids=NOT_PAYPALS_KEY.keys())
async def test_a_json_status_lookup_without_the_merchant_key_is_refused(
    psp: Psp, headers: dict[str, str]
) -> None:
    await psp.client.post("/sandbox/paypal/payments", json=PAYMENT, headers=PAYPAL)

    refused = await psp.client.get("/sandbox/paypal/payments/tx-1:1", headers=headers)
    assert refused.status_code == 401, refused.text
    assert "tx-1" not in refused.text
    allowed = await psp.client.get("/sandbox/paypal/payments/tx-1:1", headers=PAYPAL)
    assert allowed.status_code == 200
    assert allowed.json()["reference"] == "tx-1:1"


async def test_a_gateway_without_a_configured_key_refuses_every_caller() -> None:
    sandbox = Sandbox({"paypal": "json", "adyen": "soap"})  # no keys at all
    transport = httpx.ASGITransport(app=_app(sandbox))
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox.test") as client:
        for headers in ({}, {"Authorization": "Bearer"}, {"Authorization": "Bearer None"}):
            answer = await client.post("/sandbox/paypal/payments", json=PAYMENT, headers=headers)
            assert answer.status_code == 401
        answer = await client.post(
            "/sandbox/adyen/soap", content=AUTHORISE, headers={"X-API-Key": ""}
        )
        assert answer.status_code == 401
    assert sandbox.gateways["paypal"].payments == {}
    assert sandbox.gateways["adyen"].payments == {}


async def test_health_and_the_admin_routes_need_no_merchant_key(psp: Psp) -> None:
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    assert (await psp.client.get("/sandbox/paypal/health")).status_code == 200
    behaviour = await psp.client.put(
        "/sandbox/paypal/behaviour", json={"mode": "decline"}, headers=admin
    )
    assert behaviour.status_code == 200
    assert (await psp.client.get("/sandbox/paypal/ledger", headers=admin)).status_code == 200
    # ... and the merchant key is no admin key.
    refused = await psp.client.put("/sandbox/paypal/behaviour", json={"mode": "ok"}, headers=PAYPAL)
    assert refused.status_code == 401


async def test_an_unknown_gateway_is_still_not_found(psp: Psp) -> None:
    answer = await psp.client.post("/sandbox/nope/payments", json=PAYMENT, headers=PAYPAL)
    assert answer.status_code == 404


# -- the SOAP family ------------------------------------------------------------------
@pytest.mark.parametrize("headers", NOT_ADYENS_KEY.values(), ids=NOT_ADYENS_KEY.keys())
@pytest.mark.parametrize("body", [AUTHORISE, STATUS], ids=["authorise", "getPaymentStatus"])
async def test_a_soap_call_without_the_merchant_key_is_refused_and_not_recorded(
    psp: Psp, headers: dict[str, str], body: bytes
) -> None:
    answer = await psp.client.post(
        "/sandbox/adyen/soap",
        content=body,
        headers={"Content-Type": "text/xml; charset=utf-8", **headers},
    )

    assert answer.status_code == 401, answer.text
    assert answer.headers["content-type"].startswith("text/xml")
    assert "<faultcode>soap:Client</faultcode>" in answer.text
    assert psp.ledger("adyen") == []
    assert psp.gateway("adyen").requests == 0
    assert psp.called_back == []


async def test_a_soap_call_with_the_merchant_key_is_taken_and_answers_inquiries(psp: Psp) -> None:
    taken = await psp.client.post("/sandbox/adyen/soap", content=AUTHORISE, headers=ADYEN)
    assert taken.status_code == 200, taken.text
    assert "<ns1:resultCode>Received</ns1:resultCode>" in taken.text
    status = await psp.client.post("/sandbox/adyen/soap", content=STATUS, headers=ADYEN)
    assert status.status_code == 200, status.text
    assert psp.ledger("adyen") == ["tx-2:1"]
    assert psp.called_back == ["tx-2:1"]
