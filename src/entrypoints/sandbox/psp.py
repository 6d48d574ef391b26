"""State of the simulated PSPs: behaviour knobs and the payments each received.

The sandbox keeps its own ledger of every payment, keyed by the idempotency
reference it was sent, so a repeated reference never charges twice. That
ledger is what a real PSP's dashboard would show, and what the invariant
checks compare our records against.

Each gateway also knows its merchant's credential (``merchant.py``): only
calls that carry it reach the payment path.

``SandboxGateway`` keeps that state in memory, for a sandbox served inside one
process (``payments serve``, the tests). ``PspGateway`` is what the HTTP
controllers and the callback sender need from a gateway, so a shared store
(``shared.py``, for ``payments sandbox --workers N``) can stand in for it.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, Protocol

Mode = Literal["ok", "down", "decline", "timeout", "error", "reset", "rate_limit", "chaos"]
FinalStatus = Literal["completed", "failed"]
# A wire family with a simulated PSP registered in ``families.py`` ("json", "soap", "stripe_api").
Format = str

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
    # In "ok" mode, the share of requests declined at random (routing experiments).
    decline_rate: float = 0.0

    def for_request(self) -> Behaviour:
        """The concrete behaviour for one request (chaos picks one at random)."""
        if self.mode == "ok" and self.decline_rate > 0 and _chaos.random() < self.decline_rate:
            return Behaviour("decline", self.latency_ms, self.final_status, self.callback_delay_ms)
        if self.mode != "chaos":
            return self
        modes, weights = zip(*CHAOS_MIX, strict=True)
        return Behaviour(
            mode=_chaos.choices(modes, weights)[0],
            latency_ms=_chaos.randint(0, 2 * self.latency_ms),
            final_status=self.final_status,
            callback_delay_ms=self.callback_delay_ms,
        )


@dataclass(frozen=True, slots=True)
class PaymentOrder:
    """A payment as the merchant asked for it, under its idempotency reference."""

    reference: str
    transaction_id: str
    type: str
    amount: str
    currency: str
    user_id: int

    def received(self, psp_reference: str, at: datetime) -> SandboxPayment:
        """The payment the PSP keeps for this order, still processing."""
        return SandboxPayment(
            psp_reference,
            self.reference,
            self.transaction_id,
            self.type,
            self.amount,
            self.currency,
            self.user_id,
            "processing",
            at,
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


def psp_id(gateway_id: str, number: int) -> str:
    """The PSP's own reference for its ``number``-th payment (``PA-0000000001``)."""
    return f"{gateway_id[:2].upper()}-{number:010d}"


def redirect_url(gateway_id: str, payment: SandboxPayment) -> str | None:
    """Where a deposit's payer would be sent to pay; payouts have none."""
    if payment.type != "deposit":
        return None
    return f"https://{gateway_id}.sandbox.example/checkout/{payment.psp_id}"


class PspGateway(Protocol):
    """One simulated PSP as its controllers and the callback sender use it."""

    @property
    def id(self) -> str: ...
    @property
    def format(self) -> Format: ...
    @property
    def behaviour(self) -> Behaviour: ...
    @behaviour.setter
    def behaviour(self, value: Behaviour) -> None: ...
    @property
    def requests(self) -> int: ...
    @property
    def merchant_key(self) -> str | None:
        """The credential gateway-side calls must carry; None refuses every call."""

    def count_request(self) -> None:
        """One more payment request received, whatever the mode."""

    def count_lookup(self) -> None:
        """One more status inquiry received, whatever the mode."""

    def count_callback(self, *, delivered: bool) -> None:
        """A callback was delivered, or given up on after every retry."""

    def find(self, reference: str) -> SandboxPayment | None:
        """The payment recorded under this idempotency reference, if any."""

    def ledger(self) -> Iterable[SandboxPayment]:
        """Every payment received, one per idempotency reference."""

    def record(self, order: PaymentOrder, mode: Mode = "ok") -> tuple[SandboxPayment, bool]:
        """Store the payment once per reference; returns it and whether it is new."""

    def settle(self, payment: SandboxPayment, status: str) -> None:
        """Give a payment its final status (what a status inquiry then reports)."""

    def redirect_url(self, payment: SandboxPayment) -> str | None:
        """Where a deposit's payer would be sent to pay."""


# Called for each new payment with the mode that answered it: settles the
# payment later and sends the callback (unless the answer was lost).
NewPaymentHook = Callable[[PspGateway, SandboxPayment, Mode], None]


class Gateways(Protocol):
    """The simulated PSPs served together, by id."""

    def get(self, gateway_id: str) -> PspGateway | None:
        """The gateway with this id, or None."""


@dataclass(slots=True)
class SandboxGateway:
    """A simulated PSP whose state lives in this process's memory."""

    id: str
    format: Format
    behaviour: Behaviour = field(default_factory=Behaviour)
    payments: dict[str, SandboxPayment] = field(default_factory=dict)
    requests: int = 0  # every payment request received, whatever the mode
    lookups: int = 0  # every status inquiry received, whatever the mode
    callbacks_delivered: int = 0
    callbacks_failed: int = 0
    on_new_payment: NewPaymentHook | None = None
    merchant_key: str | None = None

    def record(self, order: PaymentOrder, mode: Mode = "ok") -> tuple[SandboxPayment, bool]:
        """Store the payment once per reference; returns it and whether it is new.

        Runs without awaiting, so on one event loop the check-and-insert is atomic.
        """
        existing = self.payments.get(order.reference)
        if existing is not None:
            return existing, False
        number = next(_psp_ids)
        payment = order.received(psp_id(self.id, number), datetime.now(UTC))
        self.payments[order.reference] = payment
        if self.on_new_payment is not None:
            self.on_new_payment(self, payment, mode)
        return payment, True

    def count_request(self) -> None:
        self.requests += 1

    def count_lookup(self) -> None:
        self.lookups += 1

    def count_callback(self, *, delivered: bool) -> None:
        if delivered:
            self.callbacks_delivered += 1
        else:
            self.callbacks_failed += 1

    def find(self, reference: str) -> SandboxPayment | None:
        return self.payments.get(reference)

    def ledger(self) -> Iterable[SandboxPayment]:
        return list(self.payments.values())

    def settle(self, payment: SandboxPayment, status: str) -> None:
        payment.status = status

    def redirect_url(self, payment: SandboxPayment) -> str | None:
        return redirect_url(self.id, payment)


_psp_ids = itertools.count(1)


class Sandbox:
    """All simulated gateways served by one process."""

    def __init__(
        self,
        gateways: dict[str, Format],
        on_new_payment: NewPaymentHook | None = None,
        keys: Mapping[str, str] | None = None,
    ) -> None:
        keys = keys or {}
        self.gateways = {
            gid: SandboxGateway(gid, fmt, on_new_payment=on_new_payment, merchant_key=keys.get(gid))
            for gid, fmt in gateways.items()
        }

    def get(self, gateway_id: str) -> SandboxGateway | None:
        return self.gateways.get(gateway_id)
