"""The SOAP family's simulated PSP (Adyen-like), at ``/sandbox/{gateway_id}/soap``.

One endpoint takes SOAP 1.1 envelopes and dispatches on the operation element
in the body: ``authorise`` (a deposit, ``paymentRequest``) or
``submitThirdParty`` (a payout, ``payoutRequest``) or ``refund`` (a
modification of a completed deposit, ``modificationRequest``; answered with
``refundResult/response`` ``[refund-received]``, called back as ``REFUND``).
It honours the gateway's ``Behaviour`` like the JSON sandbox (``app.py``)
and shares its ledger, so the control routes (behaviour, ledger, status
inquiry) serve both families.

``getPaymentStatus`` (``statusRequest/reference``) is the PSP's status
inquiry: it answers ``getPaymentStatusResponse/statusResult`` (``pspReference``,
``status``, ``amount`` in minor units), or a ``Client`` fault with HTTP 404
for an unknown reference. Of the behaviour modes only ``down`` applies to it,
and it counts in ``lookups``, not ``requests``.

Every call (payments and inquiries alike) must carry the gateway's merchant
credential in ``X-API-Key: <PAYMENTS_GATEWAY_KEY_<ID>>``, as Adyen's API key
travels; without it the answer is a ``Client`` fault with HTTP 401, given
before the envelope is read, and nothing is recorded or called back.

Its callbacks are Adyen ``sendNotification`` envelopes, one HMAC-signed item
each. The wire format itself is read and written in ``soap_wire.py``.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from litestar import Controller, Request, Response, post
from litestar.exceptions import NotFoundException

from adapters.gateways.signing_soap import NotificationItem, sign_adyen_item
from adapters.gateways.soap_notification import build_notification
from domain.money import Money
from entrypoints.sandbox.app import HANG_SECONDS, GatewayId, reset_midway
from entrypoints.sandbox.family import SettledPayment, SimulatedFamily
from entrypoints.sandbox.merchant import REFUSAL, is_merchant, soap_credential
from entrypoints.sandbox.psp import Gateways, PaymentOrder, PspGateway
from entrypoints.sandbox.refunds import refundable
from entrypoints.sandbox.soap_wire import (
    MEDIA_TYPE,
    STATUS_OPERATION,
    STATUS_RESULT,
    ClientFault,
    PaymentCall,
    StatusCall,
    fault,
    read_request,
    result,
    soap_result,
)


def soap_controller(sandbox: Gateways) -> type[Controller]:
    """Build the SOAP controller bound to one set of sandbox gateways."""

    def gateway(gateway_id: str) -> PspGateway:
        gw = sandbox.get(gateway_id)
        # A JSON gateway has no SOAP endpoint, as a real PSP would not.
        if gw is None or gw.format != "soap":
            raise NotFoundException(f"no SOAP sandbox gateway {gateway_id!r}")
        return gw

    class SandboxSoapController(Controller):
        path = "/sandbox/{gateway_id:str}/soap"
        tags = ["sandbox"]
        security = [{}]

        @post("/", operation_id="sandboxSoap", status_code=200)
        async def soap(
            self, gateway_id: GatewayId, request: Request[Any, Any, Any]
        ) -> Response[bytes]:
            """SOAP PSP: authorise / submitThirdParty (idempotent) and getPaymentStatus."""
            gw = gateway(gateway_id)
            if not is_merchant(gw.merchant_key, soap_credential(request.headers)):
                return fault("Client", REFUSAL, status=401)
            try:
                call = read_request(await request.body(), request.headers.get("idempotency-key"))
            except ClientFault as exc:
                return fault("Client", str(exc), status=400)
            if isinstance(call, StatusCall):
                gw.count_lookup()
                return _status_answer(gw, call.reference)
            gw.count_request()
            return await _answer(gw, call)

    return SandboxSoapController


async def _answer(gw: PspGateway, call: PaymentCall) -> Response[Any]:
    """Apply the gateway's behaviour to one valid call, like the JSON handler."""
    behaviour = gw.behaviour.for_request()
    op = call.operation
    if behaviour.latency_ms:
        await asyncio.sleep(behaviour.latency_ms / 1000)
    if behaviour.mode == "down":
        return fault("Server", "Gateway is temporarily unavailable", status=503)
    if behaviour.mode == "error":
        return fault("Server", "Internal gateway error", status=500)
    if behaviour.mode == "rate_limit":
        return fault("Server", "Too many requests", status=429)
    if behaviour.mode == "decline":
        return result(op, {op.code_element: op.refused, "refusalReason": op.decline_reason})
    existing = gw.find(call.key)
    if existing is not None and (existing.amount, existing.currency) != (
        call.amount,
        call.currency,
    ):
        return result(op, {op.code_element: op.refused, "refusalReason": "Idempotency key reused"})
    user_id = call.user_id
    if call.original_reference is not None:  # a refund
        original = refundable(gw, call.original_reference, call.amount, call.currency)
        if isinstance(original, str):
            return fault("Client", original, status=422)
        user_id = original.user_id
    order = PaymentOrder(
        call.key, call.transaction_id, op.payment_type, call.amount, call.currency, user_id
    )
    payment, _ = gw.record(order, behaviour.mode)
    if behaviour.mode == "timeout":
        # The payment exists, but the answer never arrives in time. Read at
        # call time (a module global), so tests can shorten the hang.
        await asyncio.sleep(HANG_SECONDS)
    fields: dict[str, str] = {"pspReference": payment.psp_id, op.code_element: op.received}
    redirect_url = gw.redirect_url(payment)
    if redirect_url is not None:
        fields["redirectUrl"] = redirect_url
    answer = result(op, fields)
    if behaviour.mode == "reset":
        content: bytes = answer.content
        return reset_midway(content, MEDIA_TYPE)
    return answer


def _status_answer(gw: PspGateway, reference: str) -> Response[bytes]:
    """Answer a status inquiry; of the behaviour modes, only ``down`` applies.

    A PSP's reporting API usually stays up through trouble on its payment
    path (errors, declines, hangs), but a gateway that is down answers nothing.
    """
    if gw.behaviour.mode == "down":
        return fault("Server", "Gateway is temporarily unavailable", status=503)
    payment = gw.find(reference)
    if payment is None:
        return fault("Client", "Unknown reference", status=404)
    minor = Money.parse(payment.amount, payment.currency).minor
    fields = {
        "pspReference": payment.psp_id,
        "status": payment.status,
        "amount": {"currency": payment.currency, "value": str(minor)},
    }
    return soap_result(STATUS_OPERATION, STATUS_RESULT, fields)


_EVENT_CODES = {"deposit": "AUTHORISATION", "withdrawal": "PAYOUT_THIRDPARTY", "refund": "REFUND"}


def soap_callback(settled: SettledPayment) -> tuple[bytes, dict[str, str]]:
    """An Adyen notification for the settled payment, its item signed with the first key."""
    payment = settled.payment
    item = NotificationItem(
        psp_reference=payment.psp_id,
        original_reference="",
        merchant_account=settled.merchant_account,
        merchant_reference=payment.transaction_id,
        value=Money.parse(payment.amount, payment.currency).minor,
        currency=payment.currency,
        event_code=_EVENT_CODES[payment.type],
        success=payment.status == "completed",
        reason="" if payment.status == "completed" else "Refused by the issuer",
        event_date=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    if settled.secrets:
        item = sign_adyen_item(item, settled.secrets[0])
    return build_notification([item]), {"Content-Type": "text/xml; charset=utf-8"}


SOAP_PSP = SimulatedFamily(name="soap", controller=soap_controller, callback=soap_callback)
