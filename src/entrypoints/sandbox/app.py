"""HTTP face of the sandbox PSPs, mounted under ``/sandbox/{gateway_id}``.

The JSON family answers like a Stripe/PayPal-style REST API. Its
gateway-side routes (``/payments``, ``/payments/{reference}``) serve only the
gateway's merchant: ``Authorization: Bearer <PAYMENTS_GATEWAY_KEY_<ID>>``,
else 401 before anything is read or recorded (``merchant.py``). Control
routes (behaviour, ledger) need an admin key, like the rest of the operator
API; ``/health`` is open, as a PSP's status page is.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post, put
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, JSONBody, PathParameter
from litestar.response import Stream
from litestar.types import Guard

from domain.errors import InvalidInput
from domain.money import Money
from entrypoints.sandbox.merchant import MerchantRefused, merchant_guard, refused_json
from entrypoints.sandbox.psp import (
    Behaviour,
    FinalStatus,
    Gateways,
    Mode,
    PspGateway,
    SandboxPayment,
)

# How long a "timeout" gateway holds the connection: longer than any adapter waits.
HANG_SECONDS = 60.0

GatewayId = Annotated[str, PathParameter(pattern=r"^[a-z0-9_-]{1,32}$")]


class PaymentRequest(msgspec.Struct, forbid_unknown_fields=True):
    reference: str
    transaction_id: str
    type: str
    amount: str
    currency: str
    user_id: int


class BehaviourBody(msgspec.Struct, forbid_unknown_fields=True):
    mode: Mode = "ok"
    latency_ms: Annotated[int, msgspec.Meta(ge=0, le=60_000)] = 0
    final_status: FinalStatus = "completed"
    callback_delay_ms: Annotated[int, msgspec.Meta(ge=0, le=600_000)] = 200


def reset_midway(body: bytes, media_type: str) -> Response[Any]:
    """Start answering, then drop the connection: the PSP acted, the answer is lost."""

    async def half_then_fail() -> AsyncIterator[bytes]:
        yield body[: len(body) // 2]
        raise ConnectionResetError("sandbox: connection reset by peer (simulated)")

    return Stream(half_then_fail(), media_type=media_type, status_code=201)


def _problem(status: int, code: str, message: str) -> Response[dict[str, Any]]:
    return Response({"error": {"code": code, "message": message}}, status_code=status)


def sandbox_controller(sandbox: Gateways, admin_guard: Guard) -> type[Controller]:
    """Build the controller bound to one set of sandbox gateways."""

    def gateway(gateway_id: str) -> PspGateway:
        gw = sandbox.get(gateway_id)
        if gw is None:
            raise NotFoundException(f"no sandbox gateway {gateway_id!r}")
        return gw

    merchant_only = merchant_guard(sandbox)

    class SandboxController(Controller):
        path = "/sandbox/{gateway_id:str}"
        tags = ["sandbox"]
        # The PSP side takes the merchant's key (not an API key of ours); control
        # routes need an admin key.
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
            gw.count_request()
            behaviour = gw.behaviour.for_request()
            if behaviour.latency_ms:
                await asyncio.sleep(behaviour.latency_ms / 1000)
            if behaviour.mode == "down":
                return _problem(503, "unavailable", "Gateway is temporarily unavailable")
            if behaviour.mode == "error":
                return _problem(500, "internal_error", "Internal gateway error")
            if behaviour.mode == "decline":
                return _problem(402, "card_declined", "The payment was declined by the issuer")
            try:
                Money.parse(data.amount, data.currency)
            except InvalidInput as exc:
                return _problem(422, "invalid_amount", exc.detail)
            key = request.headers.get("idempotency-key", data.reference)
            existing = gw.find(key)
            if existing is not None and (existing.amount, existing.currency) != (
                data.amount,
                data.currency,
            ):
                return _problem(422, "idempotency_mismatch", "Key reused with another payment")
            payment, _ = gw.record(
                reference=key,
                transaction_id=data.transaction_id,
                type=data.type,
                amount=data.amount,
                currency=data.currency,
                user_id=data.user_id,
                mode=behaviour.mode,
            )
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
            return Response(_payment_view(payment), status_code=200)

        @get("/health", operation_id="sandboxHealth")
        async def health(self, gateway_id: GatewayId) -> Response[dict[str, str]]:
            """Health endpoint the health checker probes."""
            gw = gateway(gateway_id)
            if gw.behaviour.mode == "down":
                return Response({"status": "down"}, status_code=503)
            return Response({"status": "ok"}, status_code=200)

        @put(
            "/behaviour",
            operation_id="sandboxSetBehaviour",
            guards=[admin_guard],
            security=[{"apiKey": []}],
        )
        async def set_behaviour(
            self, gateway_id: GatewayId, data: JSONBody[BehaviourBody]
        ) -> dict[str, Any]:
            """Change how this sandbox gateway answers (admin key)."""
            gw = gateway(gateway_id)
            gw.behaviour = Behaviour(
                mode=data.mode,
                latency_ms=data.latency_ms,
                final_status=data.final_status,
                callback_delay_ms=data.callback_delay_ms,
            )
            return _behaviour_view(gw)

        @get(
            "/behaviour",
            operation_id="sandboxGetBehaviour",
            guards=[admin_guard],
            security=[{"apiKey": []}],
        )
        async def get_behaviour(self, gateway_id: GatewayId) -> dict[str, Any]:
            """Current behaviour and request count (admin key)."""
            return _behaviour_view(gateway(gateway_id))

        @get(
            "/ledger",
            operation_id="sandboxLedger",
            guards=[admin_guard],
            security=[{"apiKey": []}],
        )
        async def ledger(self, gateway_id: GatewayId) -> list[dict[str, Any]]:
            """Every payment this gateway received, one per idempotency reference."""
            return [_payment_view(p) for p in gateway(gateway_id).ledger()]

    return SandboxController


def _behaviour_view(gw: PspGateway) -> dict[str, Any]:
    b = gw.behaviour
    return {
        "gateway_id": gw.id,
        "mode": b.mode,
        "latency_ms": b.latency_ms,
        "final_status": b.final_status,
        "callback_delay_ms": b.callback_delay_ms,
        "requests": gw.requests,
    }


def _payment_view(p: SandboxPayment) -> dict[str, Any]:
    return {
        "id": p.psp_id,
        "reference": p.reference,
        "transaction_id": p.transaction_id,
        "type": p.type,
        "amount": p.amount,
        "currency": p.currency,
        "user_id": p.user_id,
        "status": p.status,
        "created_at": p.created_at.isoformat(),
    }
