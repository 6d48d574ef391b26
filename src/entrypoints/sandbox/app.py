"""Control side of the sandbox PSPs, mounted under ``/sandbox/{gateway_id}``.

Every simulated PSP, whatever its wire family, has these routes: behaviour and
ledger need an admin key, like the rest of the operator API; ``/health`` is
open, as a PSP's status page is. The gateway-side routes each family serves
are in its own module (``json_psp.py``, ``soap_psp.py``), registered in
``families.py``; :func:`sandbox_routes` there mounts them all.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import msgspec
from litestar import Controller, Response, get, put
from litestar.exceptions import NotFoundException
from litestar.params import JSONBody, PathParameter
from litestar.response import Stream
from litestar.types import Guard

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


class BehaviourBody(msgspec.Struct, forbid_unknown_fields=True):
    mode: Mode = "ok"
    latency_ms: Annotated[int, msgspec.Meta(ge=0, le=60_000)] = 0
    final_status: FinalStatus = "completed"
    callback_delay_ms: Annotated[int, msgspec.Meta(ge=0, le=600_000)] = 200
    decline_rate: Annotated[float, msgspec.Meta(ge=0, le=1)] = 0.0


def reset_midway(body: bytes, media_type: str) -> Response[Any]:
    """Start answering, then drop the connection: the PSP acted, the answer is lost."""

    async def half_then_fail() -> AsyncIterator[bytes]:
        yield body[: len(body) // 2]
        raise ConnectionResetError("sandbox: connection reset by peer (simulated)")

    return Stream(half_then_fail(), media_type=media_type, status_code=201)


def sandbox_controller(sandbox: Gateways, admin_guard: Guard) -> type[Controller]:
    """Build the control routes (health, behaviour, ledger) bound to one set of gateways."""

    def gateway(gateway_id: str) -> PspGateway:
        gw = sandbox.get(gateway_id)
        if gw is None:
            raise NotFoundException(f"no sandbox gateway {gateway_id!r}")
        return gw

    class SandboxController(Controller):
        path = "/sandbox/{gateway_id:str}"
        tags = ["sandbox"]
        # Health is open; control routes need an admin key.
        security = [{}]

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
                decline_rate=data.decline_rate,
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
            return [payment_view(p) for p in gateway(gateway_id).ledger()]

    return SandboxController


def _behaviour_view(gw: PspGateway) -> dict[str, Any]:
    b = gw.behaviour
    return {
        "gateway_id": gw.id,
        "mode": b.mode,
        "latency_ms": b.latency_ms,
        "final_status": b.final_status,
        "callback_delay_ms": b.callback_delay_ms,
        "decline_rate": b.decline_rate,
        "requests": gw.requests,
    }


def payment_view(p: SandboxPayment) -> dict[str, Any]:
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
