"""State of the simulated PSPs: behaviour knobs and the payments each received.

The sandbox keeps its own ledger of every payment, keyed by the idempotency
reference it was sent, so a repeated reference never charges twice. That
ledger is what a real PSP's dashboard would show, and what the invariant
checks compare our records against.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

Mode = Literal["ok", "down", "decline", "timeout", "error", "reset", "chaos"]
FinalStatus = Literal["completed", "failed"]

# What "chaos" mode does to each request: a mix of everything that goes wrong
# with real PSPs (weights), plus latency jitter up to twice ``latency_ms``.
CHAOS_MIX: tuple[tuple[Mode, int], ...] = (
    ("ok", 50),
    ("error", 15),
    ("down", 10),
    ("timeout", 8),
    ("reset", 10),
    ("decline", 7),
)
_chaos = random.Random()


@dataclass(slots=True)
class Behaviour:
    mode: Mode = "ok"
    latency_ms: int = 0
    final_status: FinalStatus = "completed"
    callback_delay_ms: int = 200

    def for_request(self) -> Behaviour:
        """The concrete behaviour for one request (chaos picks one at random)."""
        if self.mode != "chaos":
            return self
        modes, weights = zip(*CHAOS_MIX, strict=True)
        return Behaviour(
            mode=_chaos.choices(modes, weights)[0],
            latency_ms=_chaos.randint(0, 2 * self.latency_ms),
            final_status=self.final_status,
            callback_delay_ms=self.callback_delay_ms,
        )


@dataclass(slots=True)
class SandboxPayment:
    psp_id: str
    reference: str
    transaction_id: str
    type: str
    amount: str
    currency: str
    user_id: int
    status: str
    created_at: datetime


@dataclass(slots=True)
class SandboxGateway:
    id: str
    format: Literal["json", "soap"]
    behaviour: Behaviour = field(default_factory=Behaviour)
    payments: dict[str, SandboxPayment] = field(default_factory=dict)
    requests: int = 0  # every payment request received, whatever the mode
    lookups: int = 0  # every status inquiry received, whatever the mode
    callbacks_delivered: int = 0
    callbacks_failed: int = 0
    # Called for each new payment with the mode that answered it: settles the
    # payment later and sends the callback (unless the answer was lost).
    on_new_payment: Callable[[SandboxGateway, SandboxPayment, Mode], None] | None = None

    def record(
        self,
        *,
        reference: str,
        transaction_id: str,
        type: str,
        amount: str,
        currency: str,
        user_id: int,
        mode: Mode = "ok",
    ) -> tuple[SandboxPayment, bool]:
        """Store the payment once per reference; returns it and whether it is new.

        Runs without awaiting, so on one event loop the check-and-insert is atomic.
        """
        existing = self.payments.get(reference)
        if existing is not None:
            return existing, False
        payment = SandboxPayment(
            psp_id=f"{self.id[:2].upper()}-{next(_psp_ids):010d}",
            reference=reference,
            transaction_id=transaction_id,
            type=type,
            amount=amount,
            currency=currency,
            user_id=user_id,
            status="processing",
            created_at=datetime.now(UTC),
        )
        self.payments[reference] = payment
        if self.on_new_payment is not None:
            self.on_new_payment(self, payment, mode)
        return payment, True

    def redirect_url(self, payment: SandboxPayment) -> str | None:
        if payment.type != "deposit":
            return None
        return f"https://{self.id}.sandbox.example/checkout/{payment.psp_id}"


_psp_ids = itertools.count(1)


class Sandbox:
    """All simulated gateways served by one process."""

    def __init__(
        self,
        gateways: dict[str, Literal["json", "soap"]],
        on_new_payment: Callable[[SandboxGateway, SandboxPayment, Mode], None] | None = None,
    ) -> None:
        self.gateways = {
            gid: SandboxGateway(gid, fmt, on_new_payment=on_new_payment)
            for gid, fmt in gateways.items()
        }

    def get(self, gateway_id: str) -> SandboxGateway | None:
        return self.gateways.get(gateway_id)
