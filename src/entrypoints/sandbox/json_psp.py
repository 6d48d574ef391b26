"""The JSON family's simulated PSP (Stripe/PayPal-like), under ``/sandbox/{gateway_id}``.

It answers like a Stripe/PayPal-style REST API. Its gateway-side routes
(``/payments``, ``/refunds``, ``/payments/{reference}``) serve only the gateway's merchant:
``Authorization: Bearer <PAYMENTS_GATEWAY_KEY_<ID>>``, else 401 before anything
is read or recorded (``merchant.py``). Its callbacks are JSON events signed
Stripe's way in ``X-Signature``.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, JSONBody

from adapters.gateways.signing_json import SIGNATURE_HEADER, sign_json
from domain.errors import InvalidInput
from domain.money import Money
from entrypoints.sandbox.app import HANG_SECONDS, GatewayId, payment_view, reset_midway
from entrypoints.sandbox.family import SettledPayment, SimulatedFamily
from entrypoints.sandbox.merchant import MerchantRefused, merchant_guard, refused_json
from entrypoints.sandbox.psp import Behaviour, Gateways, PaymentOrder, PspGateway
from entrypoints.sandbox.refunds import refundable


class PaymentRequest(msgspec.Struct, forbid_unknown_fields=True):
    reference: str
    transaction_id: str
    type: str
    amount: str
    currency: str
    user_id: int


class RefundRequest(msgspec.Struct, forbid_unknown_fields=True):
    reference: str
    transaction_id: str
    payment_id: str  # the PSP's id of the payment given back
    amount: str
    currency: str


def _problem(status: int, code: str, message: str) -> Response[dict[str, Any]]:
    return Response({"error": {"code": code, "message": message}}, status_code=status)


def json_controller(sandbox: Gateways) -> type[Controller]:
    """Build the JSON PSP's gateway-side controller bound to one set of sandbox gateways."""

    def gateway(gateway_id: str) -> PspGateway:
        gw = sandbox.get(gateway_id)
        if gw is None:
            raise NotFoundException(f"no sandbox gateway {gateway_id!r}")
        return gw

    merchant_only = merchant_guard(sandbox)

    class SandboxJsonController(Controller):
        path = "/sandbox/{gateway_id:str}"
        tags = ["sandbox"]
        # The PSP side takes the merchant's key, not an API key of ours.
        security = [{}]
        exception_handlers = {MerchantRefused: refused_json}

        @post(
            "/payments",
            operation_id="sandboxCreatePayment",
            status_code=201,
            guards=[merchant_only],
        )
        async def create_payment(
            self,
            gateway_id: GatewayId,
            data: JSONBody[PaymentRequest],
            request: Request[Any, Any, Any],
        ) -> Response[dict[str, Any]]:
            """JSON PSP: create a payment, idempotent on the Idempotency-Key header."""
            gw = gateway(gateway_id)
            declined = ("card_declined", "The payment was declined by the issuer")
            behaviour, refusal = await _behave(gw, *declined)
            if refusal is not None:
                return refusal
            try:
                Money.parse(data.amount, data.currency)
            except InvalidInput as exc:
                return _problem(422, "invalid_amount", exc.detail)
            key = request.headers.get("idempotency-key", data.reference)
            order = PaymentOrder(
                key, data.transaction_id, data.type, data.amount, data.currency, data.user_id
            )
            return await _take(gw, order, behaviour)

        @post(
            "/refunds",
            operation_id="sandboxCreateRefund",
            status_code=201,
            guards=[merchant_only],
        )
        async def create_refund(
            self,
            gateway_id: GatewayId,
            data: JSONBody[RefundRequest],
            request: Request[Any, Any, Any],
        ) -> Response[dict[str, Any]]:
            """JSON PSP: refund (part of) a completed payment, idempotent like payments."""
            gw = gateway(gateway_id)
            behaviour, refusal = await _behave(gw, "refund_declined", "The refund was declined")
            if refusal is not None:
                return refusal
            original = refundable(gw, data.payment_id, data.amount, data.currency)
            if isinstance(original, str):
                return _problem(422, "payment_not_refundable", original)
            key = request.headers.get("idempotency-key", data.reference)
            order = PaymentOrder(
                key, data.transaction_id, "refund", data.amount, data.currency, original.user_id
            )
            return await _take(gw, order, behaviour)

        @get("/payments/{reference:str}", operation_id="sandboxGetPayment", guards=[merchant_only])
        async def get_payment(
            self, gateway_id: GatewayId, reference: FromPath[str]
        ) -> Response[dict[str, Any]]:
            """Status inquiry by idempotency reference.

            Only the ``down`` mode applies: a PSP's reporting API usually
            outlives trouble on its payment path, but a gateway that is down
            answers nothing. Inquiries count as lookups, not payment requests.
            """
            gw = gateway(gateway_id)
            gw.count_lookup()
            if gw.behaviour.mode == "down":
                return _problem(503, "unavailable", "Gateway is temporarily unavailable")
            payment = gw.find(reference)
            if payment is None:
                # A specific code, so a client can tell "no such payment" from a
                # wrong URL or a proxy's 404.
                return _problem(404, "payment_not_found", f"No payment with reference {reference}")
            return Response(payment_view(payment), status_code=200)

    return SandboxJsonController


async def _behave(
    gw: PspGateway, decline_code: str, decline_message: str
) -> tuple[Behaviour, Response[dict[str, Any]] | None]:
    """Count the request and play its behaviour: the refusal to send, if any."""
    gw.count_request()
    behaviour = gw.behaviour.for_request()
    if behaviour.latency_ms:
        await asyncio.sleep(behaviour.latency_ms / 1000)
    if behaviour.mode == "down":
        return behaviour, _problem(503, "unavailable", "Gateway is temporarily unavailable")
    if behaviour.mode == "error":
        return behaviour, _problem(500, "internal_error", "Internal gateway error")
    if behaviour.mode == "rate_limit":
        return behaviour, _problem(429, "rate_limited", "Too many requests")
    if behaviour.mode == "decline":
        return behaviour, _problem(402, decline_code, decline_message)
    return behaviour, None


async def _take(gw: PspGateway, order: PaymentOrder, behaviour: Behaviour) -> Response[Any]:
    """Record the order once per idempotency key and answer as the behaviour says."""
    existing = gw.find(order.reference)
    if existing is not None and (existing.amount, existing.currency) != (
        order.amount,
        order.currency,
    ):
        return _problem(422, "idempotency_mismatch", "Key reused with another payment")
    payment, _ = gw.record(order, behaviour.mode)
    if behaviour.mode == "timeout":
        # The payment exists, but the answer never arrives in time.
        await asyncio.sleep(HANG_SECONDS)
    body = {
        "id": payment.psp_id,
        "status": payment.status,
        "redirect_url": gw.redirect_url(payment),
        "message": "Transaction is being processed",
    }
    if behaviour.mode == "reset":
        return reset_midway(msgspec.json.encode(body), "application/json")
    return Response(body, status_code=201)


def json_callback(settled: SettledPayment) -> tuple[bytes, dict[str, str]]:
    """A Stripe-style event for the settled payment, signed with every secret."""
    payment = settled.payment
    body = json.dumps(
        {
            "event_id": settled.event_id,
            "transaction_id": payment.transaction_id,
            "reference_id": payment.psp_id,
            "amount": payment.amount,
            "currency": payment.currency,
            "status": payment.status,
            "message": "Payment successful"
            if payment.status == "completed"
            else "Payment failed at the gateway",
        }
    ).encode()
    # Signed afresh on every delivery, as Stripe does: the timestamp is the send time.
    signature = sign_json(body, settled.secrets, int(time.time()))
    return body, {"Content-Type": "application/json", SIGNATURE_HEADER: signature}


JSON_PSP = SimulatedFamily(name="json", controller=json_controller, callback=json_callback)
