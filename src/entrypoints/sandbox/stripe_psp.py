"""The ``stripe_api`` family's simulated PSP: a stateful emulation of Stripe's API subset.

Under ``/sandbox/{gateway_id}`` it serves what our adapter calls on Stripe
(``POST /v1/payment_intents``, ``POST /v1/refunds``, ``GET`` of either by
id), for what stripe-mock cannot do: it remembers payments (one per
``Idempotency-Key``), names them with ids of their own, sends the signed
events after ``callback_delay_ms`` and plays the sandbox's fault modes. The
secret key travels as ``Authorization: Bearer sk_…`` (``merchant.py``);
refusals are Stripe error objects. ``stripe_objects.py`` holds the data.
"""

from __future__ import annotations

import asyncio
import re
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, QueryParameter

from entrypoints.sandbox.app import HANG_SECONDS, GatewayId, reset_midway
from entrypoints.sandbox.family import SimulatedFamily
from entrypoints.sandbox.merchant import MerchantRefused, merchant_guard
from entrypoints.sandbox.psp import Gateways, PaymentOrder, PspGateway
from entrypoints.sandbox.refunds import refundable
from entrypoints.sandbox.stripe_objects import (
    CREATE_PARAMS,
    REFUND_PARAMS,
    BadRequest,
    error,
    find_by_id,
    money_of,
    read_form,
    stripe_callback,
    view,
)

_Answer = Response[dict[str, Any]]
_BY_REFERENCE = re.compile(r"metadata\['reference'\]:'([^']{1,200})'")
_Request = Request[Any, Any, Any]
# Each fault mode as Stripe would answer it (status, error type, code).
_FAULTS = {
    "down": (503, "api_error", "service_unavailable"),
    "error": (500, "api_error", None),
    "rate_limit": (429, "invalid_request_error", "rate_limit"),
}


def _refused(_request: Request[Any, Any, Any], exc: MerchantRefused) -> _Answer:
    return Response(error("invalid_request_error", str(exc)), status_code=401)


def _bad(exc: BadRequest) -> _Answer:
    return Response(error("invalid_request_error", str(exc)), status_code=400)


def stripe_controller(sandbox: Gateways) -> type[Controller]:
    """Build the Stripe emulation's routes bound to one set of sandbox gateways."""

    def gateway(gateway_id: str) -> PspGateway:
        gw = sandbox.get(gateway_id)
        if gw is None:
            raise NotFoundException(f"no sandbox gateway {gateway_id!r}")
        return gw

    class SandboxStripeController(Controller):
        path = "/sandbox/{gateway_id:str}/v1"
        tags = ["sandbox"]
        security = [{}]  # the PSP side takes the secret key, not an API key of ours
        exception_handlers = {MerchantRefused: _refused}
        guards = [merchant_guard(sandbox)]

        @post("/payment_intents", operation_id="sandboxStripeCreatePaymentIntent")
        async def create_intent(
            self, gateway_id: GatewayId, request: Request[Any, Any, Any]
        ) -> Any:
            """Stripe emulation: create a PaymentIntent, idempotent on Idempotency-Key."""
            gw = gateway(gateway_id)
            try:
                params, metadata = read_form(await request.body(), CREATE_PARAMS)
                money = money_of(params.get("amount"), params.get("currency"))
                user_id = int(metadata.get("user_id", "0"))
            except (BadRequest, ValueError) as exc:
                return _bad(BadRequest(str(exc)))
            order = PaymentOrder(
                _key(request, metadata),
                metadata.get("transaction_id", ""),
                "deposit",
                money.format(),
                money.currency.code,
                user_id,
            )
            return await _take(gw, order)

        @post("/refunds", operation_id="sandboxStripeCreateRefund")
        async def create_refund(
            self, gateway_id: GatewayId, request: Request[Any, Any, Any]
        ) -> Any:
            """Stripe emulation: refund (part of) a succeeded PaymentIntent."""
            gw = gateway(gateway_id)
            try:
                params, metadata = read_form(await request.body(), REFUND_PARAMS)
            except BadRequest as exc:
                return _bad(exc)
            intent = find_by_id(gw, params.get("payment_intent", ""))
            if intent is None:
                return _missing("payment_intent", params.get("payment_intent", ""))
            try:
                money = money_of(params.get("amount"), intent.currency.lower())
            except BadRequest as exc:
                return _bad(exc)
            original = refundable(gw, intent.psp_id, money.format(), money.currency.code)
            if isinstance(original, str):
                return Response(error("invalid_request_error", original), status_code=400)
            order = PaymentOrder(
                _key(request, metadata),
                metadata.get("transaction_id", ""),
                "refund",
                money.format(),
                money.currency.code,
                original.user_id,
            )
            return await _take(gw, order)

        @get("/payment_intents/search", operation_id="sandboxStripeSearchPaymentIntents")
        async def search(
            self, gateway_id: GatewayId, wanted: Annotated[str, QueryParameter(name="query")]
        ) -> _Answer:
            """Stripe emulation: find a PaymentIntent by ``metadata['reference']``."""
            gw = gateway(gateway_id)
            gw.count_lookup()
            if gw.behaviour.mode == "down":
                return Response(error("api_error", "Stripe is unavailable"), status_code=503)
            by_reference = _BY_REFERENCE.fullmatch(wanted)
            if by_reference is None:
                return _bad(BadRequest("the emulation searches by metadata['reference'] only"))
            payment = gw.find(by_reference.group(1))
            found = [view(payment)] if payment is not None and payment.type == "deposit" else []
            return Response({"object": "search_result", "data": found, "has_more": False})

        @get("/balance", operation_id="sandboxStripeGetBalance")
        async def balance(self, gateway_id: GatewayId) -> _Answer:
            """Stripe emulation: the account balance, what the health checker reads."""
            gw = gateway(gateway_id)
            if gw.behaviour.mode == "down":
                status, kind, code = _FAULTS["down"]
                return Response(error(kind, "Stripe is unavailable", code), status_code=status)
            return Response(
                {"object": "balance", "available": [], "pending": [], "livemode": False}
            )

        @get("/payment_intents/{object_id:str}", operation_id="sandboxStripeGetPaymentIntent")
        async def get_intent(self, gateway_id: GatewayId, object_id: FromPath[str]) -> _Answer:
            """Stripe emulation: a PaymentIntent by id (only ``down`` applies)."""
            return _lookup(gateway(gateway_id), "payment_intent", object_id)

        @get("/refunds/{object_id:str}", operation_id="sandboxStripeGetRefund")
        async def get_refund(self, gateway_id: GatewayId, object_id: FromPath[str]) -> _Answer:
            """Stripe emulation: a Refund by id (only ``down`` applies)."""
            return _lookup(gateway(gateway_id), "refund", object_id)

    return SandboxStripeController


def _key(request: Request[Any, Any, Any], metadata: dict[str, str]) -> str:
    return request.headers.get("idempotency-key") or metadata.get("reference", "")


def _missing(kind: str, object_id: str) -> _Answer:
    body = error("invalid_request_error", f"No such {kind}: '{object_id}'", "resource_missing")
    return Response(body, status_code=404)


def _lookup(gw: PspGateway, kind: str, object_id: str) -> _Answer:
    gw.count_lookup()
    if gw.behaviour.mode == "down":
        return Response(error("api_error", "Stripe is unavailable"), status_code=503)
    payment = find_by_id(gw, object_id)
    if payment is None or view(payment)["object"] != kind:
        return _missing(kind, object_id)
    return Response(view(payment), status_code=200)


async def _take(gw: PspGateway, order: PaymentOrder) -> Any:
    """Play the behaviour, then record the order once per key and answer with its object."""
    gw.count_request()
    behaviour = gw.behaviour.for_request()
    if behaviour.latency_ms:
        await asyncio.sleep(behaviour.latency_ms / 1000)
    if behaviour.mode in _FAULTS:
        status, kind, code = _FAULTS[behaviour.mode]
        return Response(error(kind, f"Sandbox {behaviour.mode}", code), status_code=status)
    if behaviour.mode == "decline":
        body = error(
            "card_error", "Your card was declined.", "card_declined", decline_code="generic_decline"
        )
        return Response(body, status_code=402)
    if not order.reference or not order.transaction_id:
        return _bad(BadRequest("metadata[transaction_id] and an Idempotency-Key are required"))
    existing = gw.find(order.reference)
    if existing is not None and (existing.amount, existing.currency) != (
        order.amount,
        order.currency,
    ):
        body = error("idempotency_error", "Keys for idempotent requests can only be used once")
        return Response(body, status_code=400)
    payment, _ = gw.record(order, behaviour.mode)
    if behaviour.mode == "timeout":
        await asyncio.sleep(HANG_SECONDS)  # the object exists; the answer never comes
    answer = view(payment)
    if behaviour.mode == "reset":
        return reset_midway(msgspec.json.encode(answer), "application/json")
    return Response(answer, status_code=200)


STRIPE_PSP = SimulatedFamily(
    name="stripe_api", controller=stripe_controller, callback=stripe_callback
)
