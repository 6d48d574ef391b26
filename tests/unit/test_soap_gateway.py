"""The SOAP gateway adapter and the SOAP sandbox PSP.

Adapter tests answer through httpx.MockTransport with hand-written envelopes;
round-trip tests run the adapter against the sandbox controller in-process
(httpx.ASGITransport), so no socket is opened.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any

import httpx
import pytest
import xmltodict
from litestar import Litestar

from adapters.gateways.soap_http import SoapGatewayProvider
from application.ports import GatewayStatus, GatewayUnreachable, PaymentInstruction
from domain.transaction import AttemptOutcome, TransactionType
from entrypoints.sandbox import soap_psp as soap
from entrypoints.sandbox.psp import Mode, Sandbox, SandboxGateway
from entrypoints.sandbox.soap_psp import soap_controller

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
ADYEN_NS = "http://payment.services.adyen.com"

DEPOSIT = PaymentInstruction(
    transaction_id="tx-1",
    reference="tx-1:1",
    type=TransactionType.DEPOSIT,
    user_id=1,
    amount="10.00",
    amount_minor=1000,
    currency="USD",
)
# Three decimals, so a wrong exponent anywhere changes the recorded amount.
WITHDRAWAL = PaymentInstruction(
    transaction_id="tx-2",
    reference="tx-2:1",
    type=TransactionType.WITHDRAWAL,
    user_id=3,
    amount="1.234",
    amount_minor=1234,
    currency="BHD",
)


def provider(handler: Callable[[httpx.Request], httpx.Response]) -> SoapGatewayProvider:
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return SoapGatewayProvider("adyen", "http://psp.test/sandbox/adyen", client)


def answer(status: int, body: str) -> Callable[[httpx.Request], httpx.Response]:
    """A handler answering one SOAP body (inner XML) in a ``soapenv``-prefixed envelope."""
    envelope = (
        f'<?xml version="1.0" encoding="utf-8"?>'
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_NS}"'
        f' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<soapenv:Body>{body}</soapenv:Body></soapenv:Envelope>"
    )
    return lambda _: httpx.Response(
        status, content=envelope.encode(), headers={"Content-Type": "text/xml"}
    )


def payment_result(result_code: str, extra: str = "", *, psp: str | None = "8815") -> str:
    """``authoriseResponse`` the way Adyen writes it: ``ns1`` prefix plus default xmlns."""
    psp_el = f'<pspReference xmlns="{ADYEN_NS}">{psp}</pspReference>' if psp else ""
    return (
        f'<ns1:authoriseResponse xmlns:ns1="{ADYEN_NS}"><ns1:paymentResult>'
        f'<additionalData xmlns="{ADYEN_NS}" xsi:nil="true"/>{psp_el}'
        f'<resultCode xmlns="{ADYEN_NS}">{result_code}</resultCode>{extra}'
        f"</ns1:paymentResult></ns1:authoriseResponse>"
    )


def payout_result(result_code: str, extra: str = "") -> str:
    return (
        f'<ns1:submitThirdPartyResponse xmlns:ns1="{ADYEN_NS}"><ns1:payoutResult>'
        f"<ns1:pspReference>9915</ns1:pspReference>"
        f"<ns1:resultCode>{result_code}</ns1:resultCode>{extra}"
        f"</ns1:payoutResult></ns1:submitThirdPartyResponse>"
    )


def fault(code: str, message: str) -> str:
    return (
        f"<soapenv:Fault><faultcode>{code}</faultcode>"
        f"<faultstring>{message}</faultstring></soapenv:Fault>"
    )


def sent_operation(request: httpx.Request) -> dict[str, Any]:
    """The request's Body, with only the two expected namespaces stripped.

    Elements in any other namespace keep their URI in the name, so a wrong
    namespace makes the assertions fail.
    """
    document = xmltodict.parse(
        request.content, process_namespaces=True, namespaces={SOAP_NS: "", ADYEN_NS: ""}
    )
    body: dict[str, Any] = document["Envelope"]["Body"]
    return body


# -- what is sent ---------------------------------------------------------------
async def test_a_deposit_is_an_authorise_envelope_in_minor_units() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(
            200, payment_result("RedirectShopper", "<redirectUrl>https://r/1</redirectUrl>")
        )(request)

    result = await provider(handler).submit(DEPOSIT)

    assert result.outcome is AttemptOutcome.ACCEPTED
    assert (result.reference_id, result.redirect_url, result.completed) == (
        "8815",
        "https://r/1",
        False,
    )
    request = seen[0]
    assert request.url == "http://psp.test/sandbox/adyen/soap"
    assert request.headers["content-type"] == "text/xml; charset=utf-8"
    assert request.headers["soapaction"] == '"authorise"'
    assert request.headers["idempotency-key"] == "tx-1:1"
    payment = sent_operation(request)["authorise"]["paymentRequest"]
    assert payment["amount"] == {"currency": "USD", "value": "1000"}
    assert payment["reference"] == "tx-1:1"
    assert payment["merchantAccount"] == "PaymentsPlatform"
    assert payment["shopperReference"] == "1"
    assert payment["additionalData"]["entry"] == {"key": "transactionId", "value": "tx-1"}


async def test_a_withdrawal_is_a_submit_third_party_payout() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(200, payout_result("[payout-submit-received]"))(request)

    result = await provider(handler).submit(WITHDRAWAL)

    assert result.outcome is AttemptOutcome.ACCEPTED
    assert (result.reference_id, result.redirect_url, result.completed) == ("9915", None, False)
    assert seen[0].headers["soapaction"] == '"submitThirdParty"'
    assert seen[0].headers["idempotency-key"] == "tx-2:1"
    payout = sent_operation(seen[0])["submitThirdParty"]["payoutRequest"]
    assert payout["amount"] == {"currency": "BHD", "value": "1234"}
    assert (payout["reference"], payout["shopperReference"]) == ("tx-2:1", "3")


async def test_text_is_escaped_in_the_envelope() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(200, payment_result("Received"))(request)

    odd = replace(DEPOSIT, transaction_id="</x><&>")
    await provider(handler).submit(odd)
    entry = sent_operation(seen[0])["authorise"]["paymentRequest"]["additionalData"]["entry"]
    assert entry["value"] == "</x><&>"


# -- how answers are classified ---------------------------------------------------
@pytest.mark.parametrize(
    ("result_code", "completed"),
    [("Received", False), ("Pending", False), ("RedirectShopper", False), ("Authorised", True)],
)
async def test_accepting_result_codes(result_code: str, completed: bool) -> None:
    result = await provider(answer(200, payment_result(result_code))).submit(DEPOSIT)
    assert result.outcome is AttemptOutcome.ACCEPTED
    assert result.reference_id == "8815"
    assert result.completed is completed


async def test_a_refusal_is_declined_with_a_snake_cased_reason() -> None:
    body = payment_result("Refused", "<ns1:refusalReason>CVC Declined</ns1:refusalReason>")
    result = await provider(answer(200, body)).submit(DEPOSIT)
    assert result.outcome is AttemptOutcome.DECLINED
    assert (result.error_code, result.message) == ("cvc_declined", "CVC Declined")


async def test_a_refused_payout_is_declined() -> None:
    body = payout_result(
        "[payout-submit-refused]", "<ns1:refusalReason>Payout refused</ns1:refusalReason>"
    )
    result = await provider(answer(200, body)).submit(WITHDRAWAL)
    assert result.outcome is AttemptOutcome.DECLINED
    assert result.error_code == "payout_refused"


@pytest.mark.parametrize(
    ("status", "code", "outcome", "error_code"),
    [
        (500, "soapenv:Server", AttemptOutcome.TRANSIENT, "internal_error"),
        (500, "soap:Server.Timeout", AttemptOutcome.TRANSIENT, "internal_error"),
        (500, "soapenv:Client", AttemptOutcome.DECLINED, "validation_101_invalid_card_number"),
        (400, "Client", AttemptOutcome.DECLINED, "validation_101_invalid_card_number"),
    ],
)
async def test_soap_faults_are_classified_by_faultcode(
    status: int, code: str, outcome: AttemptOutcome, error_code: str
) -> None:
    message = "Internal error" if "Server" in code else "validation 101 Invalid card number"
    result = await provider(answer(status, fault(code, message))).submit(DEPOSIT)
    assert result.outcome is outcome
    assert (result.error_code, result.message) == (error_code, message)


async def test_unavailable_means_not_sent_even_with_a_server_fault() -> None:
    result = await provider(answer(503, fault("soapenv:Server", "Unavailable"))).submit(DEPOSIT)
    assert result.outcome is AttemptOutcome.NOT_SENT
    assert result.error_code == "http_503"


async def test_a_proxy_error_stays_ambiguous_even_with_a_server_fault() -> None:
    result = await provider(answer(504, fault("soapenv:Server", "Upstream"))).submit(DEPOSIT)
    assert result.outcome is AttemptOutcome.AMBIGUOUS


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (500, AttemptOutcome.TRANSIENT),
        (503, AttemptOutcome.NOT_SENT),
        (429, AttemptOutcome.TRANSIENT),
        (502, AttemptOutcome.AMBIGUOUS),
        (504, AttemptOutcome.AMBIGUOUS),
        (404, AttemptOutcome.DECLINED),
    ],
)
async def test_plain_statuses_map_to_outcome_classes(status: int, outcome: AttemptOutcome) -> None:
    result = await provider(lambda _: httpx.Response(status, content=b"<html>oops")).submit(DEPOSIT)
    assert result.outcome is outcome
    assert result.error_code == f"http_{status}"


@pytest.mark.parametrize(
    ("exc", "outcome", "error_code"),
    [
        (httpx.ConnectError("refused"), AttemptOutcome.NOT_SENT, "connect_failed"),
        (httpx.ConnectTimeout("slow"), AttemptOutcome.NOT_SENT, "connect_failed"),
        (httpx.PoolTimeout("busy"), AttemptOutcome.NOT_SENT, "connect_failed"),
        (httpx.ReadTimeout("late"), AttemptOutcome.AMBIGUOUS, "timeout"),
        (httpx.RemoteProtocolError("reset"), AttemptOutcome.AMBIGUOUS, "transport_error"),
        (httpx.ReadError("reset"), AttemptOutcome.AMBIGUOUS, "transport_error"),
    ],
)
async def test_transport_failures_map_to_outcome_classes(
    exc: httpx.HTTPError, outcome: AttemptOutcome, error_code: str
) -> None:
    def handler(_: httpx.Request) -> httpx.Response:
        raise exc

    result = await provider(handler).submit(DEPOSIT)
    assert (result.outcome, result.error_code) == (outcome, error_code)


BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><lolz>&lol2;</lolz>'
)
EXTERNAL_DTD = (
    f'<?xml version="1.0"?><!DOCTYPE e SYSTEM "http://evil.test/x.dtd">'
    f'<s:Envelope xmlns:s="{SOAP_NS}"><s:Body>{payment_result("Received")}</s:Body></s:Envelope>'
).encode()


@pytest.mark.parametrize(
    "content",
    [
        b"<html>",
        b"",
        b"not xml at all",
        b"<Envelope><Body>text</Body></Envelope>",
        BILLION_LAUGHS,
        EXTERNAL_DTD,
    ],
    ids=["html", "empty", "text", "no-namespace", "entities", "external-dtd"],
)
async def test_an_unreadable_success_is_ambiguous(content: bytes) -> None:
    result = await provider(lambda _: httpx.Response(200, content=content)).submit(DEPOSIT)
    assert (result.outcome, result.error_code) == (AttemptOutcome.AMBIGUOUS, "bad_response")


@pytest.mark.parametrize(
    "body",
    [
        payment_result("Received", psp=None),
        payment_result("Error"),
        payment_result("Received").replace("authoriseResponse", "otherResponse"),
    ],
    ids=["no-psp-reference", "unknown-result-code", "wrong-response-element"],
)
async def test_a_success_we_cannot_act_on_is_ambiguous(body: str) -> None:
    result = await provider(answer(200, body)).submit(DEPOSIT)
    assert (result.outcome, result.error_code) == (AttemptOutcome.AMBIGUOUS, "bad_response")


async def test_result_text_with_xsi_type_attributes_is_read() -> None:
    body = payment_result(
        "Authorised",
        '<redirectUrl xmlns:xsd="http://www.w3.org/2001/XMLSchema" xsi:type="xsd:string">'
        "https://r/2</redirectUrl>",
    )
    result = await provider(answer(200, body)).submit(DEPOSIT)
    assert (result.outcome, result.redirect_url, result.completed) == (
        AttemptOutcome.ACCEPTED,
        "https://r/2",
        True,
    )


# -- round trips against the sandbox ---------------------------------------------
MERCHANT_KEY = "AQE_unit_adyen"  # the sandbox serves only its merchant


class Psp:
    """The sandbox app and an adapter wired to it without sockets."""

    def __init__(self, sandbox: Sandbox, client: httpx.AsyncClient) -> None:
        self.sandbox = sandbox
        self.client = client
        self.adyen = SoapGatewayProvider(
            "adyen", "http://sandbox.test/sandbox/adyen", client, merchant_key=MERCHANT_KEY
        )

    @property
    def gateway(self) -> SandboxGateway:
        return self.sandbox.gateways["adyen"]


class _ReadTimeoutTransport(httpx.AsyncBaseTransport):
    """ASGITransport ignores timeouts, so impose a read timeout around it."""

    def __init__(self, inner: httpx.AsyncBaseTransport, seconds: float) -> None:
        self._inner = inner
        self._seconds = seconds

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await asyncio.wait_for(self._inner.handle_async_request(request), self._seconds)
        except TimeoutError as exc:
            raise httpx.ReadTimeout("no answer in time", request=request) from exc


def _app(sandbox: Sandbox) -> Litestar:
    return Litestar(route_handlers=[soap_controller(sandbox)])


@pytest.fixture
async def psp() -> AsyncIterator[Psp]:
    sandbox = Sandbox({"adyen": "soap", "paypal": "json"}, keys={"adyen": MERCHANT_KEY})
    transport = _ReadTimeoutTransport(httpx.ASGITransport(app=_app(sandbox)), seconds=2.0)
    # Raw requests to the sandbox come from its merchant too.
    async with httpx.AsyncClient(
        transport=transport, base_url="http://sandbox.test", headers={"X-API-Key": MERCHANT_KEY}
    ) as client:
        yield Psp(sandbox, client)


async def test_round_trip_deposit_is_accepted_and_recorded(psp: Psp) -> None:
    result = await psp.adyen.submit(DEPOSIT)

    assert result.outcome is AttemptOutcome.ACCEPTED
    payment = psp.gateway.payments["tx-1:1"]
    assert result.reference_id == payment.psp_id
    assert result.redirect_url == f"https://adyen.sandbox.example/checkout/{payment.psp_id}"
    assert (payment.transaction_id, payment.type, payment.user_id) == ("tx-1", "deposit", 1)
    assert (payment.amount, payment.currency) == ("10.00", "USD")
    assert psp.gateway.requests == 1


async def test_round_trip_same_reference_is_charged_once(psp: Psp) -> None:
    first = await psp.adyen.submit(DEPOSIT)
    second = await psp.adyen.submit(DEPOSIT)

    assert second.outcome is AttemptOutcome.ACCEPTED
    assert second.reference_id == first.reference_id
    assert len(psp.gateway.payments) == 1
    assert psp.gateway.requests == 2


async def test_round_trip_reused_reference_with_another_amount_is_refused(psp: Psp) -> None:
    await psp.adyen.submit(DEPOSIT)
    other = replace(DEPOSIT, amount="11.00", amount_minor=1100)

    result = await psp.adyen.submit(other)

    assert (result.outcome, result.error_code) == (
        AttemptOutcome.DECLINED,
        "idempotency_key_reused",
    )
    assert psp.gateway.payments["tx-1:1"].amount == "10.00"


async def test_round_trip_payout_keeps_the_currency_exponent(psp: Psp) -> None:
    result = await psp.adyen.submit(WITHDRAWAL)

    assert result.outcome is AttemptOutcome.ACCEPTED
    assert result.redirect_url is None
    payment = psp.gateway.payments["tx-2:1"]
    assert result.reference_id == payment.psp_id
    assert (payment.type, payment.amount, payment.currency) == ("withdrawal", "1.234", "BHD")
    assert (payment.transaction_id, payment.user_id) == ("tx-2", 3)


@pytest.mark.parametrize(
    ("instruction", "error_code"),
    [(DEPOSIT, "insufficient_balance_on_card"), (WITHDRAWAL, "payout_refused")],
    ids=["deposit", "payout"],
)
async def test_round_trip_decline(
    psp: Psp, instruction: PaymentInstruction, error_code: str
) -> None:
    psp.gateway.behaviour.mode = "decline"

    result = await psp.adyen.submit(instruction)

    assert (result.outcome, result.error_code) == (AttemptOutcome.DECLINED, error_code)
    assert psp.gateway.payments == {}
    assert psp.gateway.requests == 1


@pytest.mark.parametrize(
    ("mode", "outcome"),
    [("down", AttemptOutcome.NOT_SENT), ("error", AttemptOutcome.TRANSIENT)],
)
async def test_round_trip_failure_modes(psp: Psp, mode: Mode, outcome: AttemptOutcome) -> None:
    psp.gateway.behaviour.mode = mode

    result = await psp.adyen.submit(DEPOSIT)

    assert result.outcome is outcome
    assert psp.gateway.payments == {}


async def test_round_trip_timeout_is_ambiguous_and_the_payment_exists(
    psp: Psp, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Longer than the 2 s read timeout the fixture imposes, short enough that
    # a hang that escapes cancellation cannot stall the suite for long.
    monkeypatch.setattr(soap, "HANG_SECONDS", 5.0)
    psp.gateway.behaviour.mode = "timeout"
    transport = _ReadTimeoutTransport(httpx.ASGITransport(app=_app(psp.sandbox)), seconds=0.2)
    async with httpx.AsyncClient(transport=transport) as client:
        adyen = SoapGatewayProvider(
            "adyen", "http://sandbox.test/sandbox/adyen", client, merchant_key=MERCHANT_KEY
        )
        result = await adyen.submit(WITHDRAWAL)

    assert (result.outcome, result.error_code) == (AttemptOutcome.AMBIGUOUS, "timeout")
    assert "tx-2:1" in psp.gateway.payments


# -- the sandbox endpoint itself ----------------------------------------------------
@pytest.mark.parametrize("gateway_id", ["nope", "paypal"], ids=["unknown", "json-gateway"])
async def test_sandbox_has_no_soap_endpoint_for_other_gateways(psp: Psp, gateway_id: str) -> None:
    response = await psp.client.post(f"/sandbox/{gateway_id}/soap", content=b"<x/>")
    assert response.status_code == 404


def _envelope(inner: str, *, doctype: str = "") -> bytes:
    return (
        f'<?xml version="1.0"?>{doctype}<soap:Envelope xmlns:soap="{SOAP_NS}">'
        f"<soap:Body>{inner}</soap:Body></soap:Envelope>"
    ).encode()


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (_envelope("", doctype='<!DOCTYPE x [<!ENTITY a "b">]>'), "DTDs are not accepted"),
        (_envelope(f'<cancel xmlns="{ADYEN_NS}"/>'), "unknown operation 'cancel'"),
        # The right local name in the wrong namespace is not our operation.
        (_envelope('<authorise xmlns="urn:other"/>'), "unknown operation"),
        (_envelope(f'<authorise xmlns="{ADYEN_NS}"><paymentRequest/></authorise>'), "needs a"),
        (b"<Envelope", "malformed XML"),
    ],
    ids=["doctype", "unknown-operation", "wrong-namespace", "empty-request", "malformed"],
)
async def test_sandbox_answers_bad_requests_with_a_client_fault(
    psp: Psp, content: bytes, reason: str
) -> None:
    response = await psp.client.post("/sandbox/adyen/soap", content=content)

    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/xml")
    fault_el = xmltodict.parse(response.content, process_namespaces=True)[f"{SOAP_NS}:Envelope"][
        f"{SOAP_NS}:Body"
    ][f"{SOAP_NS}:Fault"]
    assert fault_el["faultcode"] == "soap:Client"
    assert reason in fault_el["faultstring"]
    assert psp.gateway.requests == 0


async def test_sandbox_rejects_a_non_numeric_amount(psp: Psp) -> None:
    request = (
        f'<authorise xmlns="{ADYEN_NS}"><paymentRequest>'
        "<amount><currency>USD</currency><value>1_000</value></amount>"
        "<reference>r:1</reference><shopperReference>1</shopperReference>"
        "<additionalData><entry><key>transactionId</key><value>r</value></entry>"
        "</additionalData></paymentRequest></authorise>"
    )
    response = await psp.client.post("/sandbox/adyen/soap", content=_envelope(request))
    assert response.status_code == 400
    assert b"value must be a whole number" in response.content


# -- status inquiry ----------------------------------------------------------------
def status_result(status: str = "completed", *, value: str = "1000", psp: str = "8815") -> str:
    """``getPaymentStatusResponse`` with ``ns1`` prefixes and a default-xmlns amount."""
    return (
        f'<ns1:getPaymentStatusResponse xmlns:ns1="{ADYEN_NS}"><ns1:statusResult>'
        f"<ns1:pspReference>{psp}</ns1:pspReference><ns1:status>{status}</ns1:status>"
        f'<amount xmlns="{ADYEN_NS}"><currency>USD</currency><value>{value}</value></amount>'
        f"</ns1:statusResult></ns1:getPaymentStatusResponse>"
    )


async def test_an_inquiry_is_a_get_payment_status_envelope() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(200, status_result())(request)

    status = await provider(handler).inquire("tx-1:1")

    assert status == GatewayStatus(
        found=True, status="completed", reference_id="8815", amount_minor=1000, currency="USD"
    )
    request = seen[0]
    assert request.url == "http://psp.test/sandbox/adyen/soap"
    assert request.headers["soapaction"] == '"getPaymentStatus"'
    assert request.headers["content-type"] == "text/xml; charset=utf-8"
    # An inquiry is not a payment: it carries no idempotency key.
    assert "idempotency-key" not in request.headers
    assert sent_operation(request)["getPaymentStatus"]["statusRequest"] == {
        "merchantAccount": "PaymentsPlatform",
        "reference": "tx-1:1",
    }


@pytest.mark.parametrize("status", ["processing", "completed", "failed"])
async def test_inquiry_statuses_are_read(status: str) -> None:
    result = await provider(answer(200, status_result(status))).inquire("tx-1:1")
    assert (result.found, result.status) == (True, status)


async def test_inquiry_unknown_reference_is_a_404_client_fault() -> None:
    body = fault("soapenv:Client", "Unknown reference")
    assert await provider(answer(404, body)).inquire("r:1") == GatewayStatus(found=False)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (404, fault("soapenv:Server", "Not here")),
        (404, ""),
        (503, fault("soapenv:Server", "Unavailable")),
        (500, fault("soapenv:Server", "Internal error")),
        (400, fault("soapenv:Client", "validation")),
        (502, ""),
        (200, fault("soapenv:Server", "Internal error")),
        (201, status_result()),
    ],
    ids=[
        "404-server-fault",
        "404-no-fault",
        "503",
        "500",
        "400-client-fault",
        "502",
        "200-fault",
        "201",
    ],
)
async def test_inquiry_failures_are_unreachable(status: int, body: str) -> None:
    with pytest.raises(GatewayUnreachable):
        await provider(answer(status, body)).inquire("tx-1:1")


async def test_inquiry_bare_404_is_unreachable_not_unknown() -> None:
    # A wrong URL or a proxy says nothing about the payment.
    with pytest.raises(GatewayUnreachable):
        await provider(lambda _: httpx.Response(404, content=b"Not Found")).inquire("r:1")


@pytest.mark.parametrize(
    "exc",
    [httpx.ConnectError("refused"), httpx.ReadTimeout("late"), httpx.ReadError("reset")],
)
async def test_inquiry_transport_failures_are_unreachable(exc: httpx.HTTPError) -> None:
    def handler(_: httpx.Request) -> httpx.Response:
        raise exc

    with pytest.raises(GatewayUnreachable) as info:
        await provider(handler).inquire("tx-1:1")
    assert info.value.__cause__ is exc


@pytest.mark.parametrize(
    "body",
    [
        status_result("pending"),
        status_result("Authorised"),
        status_result(value="10.00"),
        status_result(value="-1"),
        status_result(value="0"),
        status_result().replace("<ns1:pspReference>8815</ns1:pspReference>", ""),
        status_result().replace("USD", "XXX"),
        status_result().replace("getPaymentStatusResponse", "authoriseResponse"),
    ],
    ids=[
        "unknown-status",
        "result-code-not-status",
        "decimal-value",
        "negative-value",
        "zero-value",
        "no-psp-reference",
        "unknown-currency",
        "wrong-response-element",
    ],
)
async def test_inquiry_unusable_results_are_unreachable(body: str) -> None:
    with pytest.raises(GatewayUnreachable):
        await provider(answer(200, body)).inquire("tx-1:1")


@pytest.mark.parametrize("content", [b"<html>", b"", BILLION_LAUGHS], ids=["html", "empty", "dtd"])
async def test_inquiry_unreadable_answers_are_unreachable(content: bytes) -> None:
    with pytest.raises(GatewayUnreachable):
        await provider(lambda _: httpx.Response(200, content=content)).inquire("tx-1:1")


async def test_round_trip_inquiry_follows_the_payment(psp: Psp) -> None:
    sent = await psp.adyen.submit(WITHDRAWAL)

    processing = await psp.adyen.inquire("tx-2:1")
    assert processing == GatewayStatus(
        found=True,
        status="processing",
        reference_id=sent.reference_id,
        amount_minor=1234,
        currency="BHD",
    )
    psp.gateway.payments["tx-2:1"].status = "completed"
    completed = await psp.adyen.inquire("tx-2:1")
    assert (completed.status, completed.amount_minor, completed.currency) == (
        "completed",
        1234,
        "BHD",
    )
    # Inquiries are lookups, not payment requests.
    assert (psp.gateway.requests, psp.gateway.lookups) == (1, 2)


async def test_round_trip_inquiry_of_an_unknown_reference(psp: Psp) -> None:
    assert await psp.adyen.inquire("tx-9:1") == GatewayStatus(found=False)
    assert psp.gateway.requests == 0


@pytest.mark.parametrize("mode", ["error", "decline", "timeout"])
async def test_round_trip_inquiry_ignores_payment_path_modes(psp: Psp, mode: Mode) -> None:
    await psp.adyen.submit(DEPOSIT)
    psp.gateway.behaviour.mode = mode

    assert (await psp.adyen.inquire("tx-1:1")).status == "processing"


async def test_round_trip_inquiry_of_a_down_gateway_is_unreachable(psp: Psp) -> None:
    await psp.adyen.submit(DEPOSIT)
    psp.gateway.behaviour.mode = "down"

    with pytest.raises(GatewayUnreachable, match="503"):
        await psp.adyen.inquire("tx-1:1")


async def test_sandbox_inquiry_without_a_reference_is_a_client_fault(psp: Psp) -> None:
    request = f'<getPaymentStatus xmlns="{ADYEN_NS}"><statusRequest/></getPaymentStatus>'
    response = await psp.client.post("/sandbox/adyen/soap", content=_envelope(request))
    assert response.status_code == 400
    assert b"getPaymentStatus needs a statusRequest" in response.content
    assert psp.gateway.lookups == 0
