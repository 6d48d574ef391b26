"""Ports for payment gateways: what we send, what they answer, what we know of them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from domain.transaction import AttemptOutcome, TransactionType


@dataclass(frozen=True, slots=True)
class PaymentInstruction:
    """What we ask a gateway to do; ``reference`` is its idempotency key."""

    transaction_id: str
    reference: str
    type: TransactionType
    user_id: int
    amount: str  # exact decimal string in the currency's precision
    amount_minor: int
    currency: str
    # Refunds: the gateway's own reference of the payment given back.
    parent_reference: str | None = None


@dataclass(frozen=True, slots=True)
class GatewayResult:
    """The classified answer of one gateway call (never a library type)."""

    outcome: AttemptOutcome
    reference_id: str | None = None
    redirect_url: str | None = None
    # What the payer's browser needs instead of a redirect (Stripe's PaymentIntent).
    client_secret: str | None = None
    completed: bool = False  # the gateway settled synchronously
    error_code: str | None = None
    message: str | None = None
    tries: int = 1  # HTTP calls made under this one idempotency reference


@dataclass(frozen=True, slots=True)
class GatewayRuntime:
    """A gateway's technical state as this process sees it."""

    health: str  # healthy | unhealthy | unknown
    breaker: str  # closed | open | half_open
    success_rate: float | None
    latency_ms_p50: int | None
    latency_ms_p95: int | None
    recent_calls: int


@dataclass(frozen=True, slots=True)
class GatewayStatus:
    """What a gateway's status inquiry says about one idempotency reference."""

    found: bool  # False: the gateway never received this reference
    status: str | None = None  # processing | completed | failed
    reference_id: str | None = None  # the gateway's own id for the payment
    amount_minor: int | None = None
    currency: str | None = None


class GatewayUnreachable(Exception):
    """A status inquiry got no usable answer; ask again later."""


class PaymentProvider(Protocol):
    """One gateway, spoken to in its own format."""

    gateway_id: str

    async def submit(self, instruction: PaymentInstruction) -> GatewayResult:
        """Send the payment; classify every failure instead of raising."""

    async def inquire(self, reference: str, gateway_reference: str | None = None) -> GatewayStatus:
        """Ask for the truth about a payment we sent (by our idempotency reference).

        ``gateway_reference`` is the gateway's own id for it when we know one
        (families that look payments up by their id, like Stripe, need it).
        Raises GatewayUnreachable when there is no trustworthy answer.
        """


class GatewayAvailability(Protocol):
    """What this process knows of each gateway's technical state."""

    def is_available(self, gateway_id: str) -> bool:
        """False while its breaker is open or its health checks fail."""


class GatewayTelemetry(Protocol):
    """Runtime state of each gateway, for operators."""

    def runtime(self, gateway_id: str) -> GatewayRuntime:
        """Health, breaker state, recent success rate and latency."""


class GatewayCapabilities(Protocol):
    """What each gateway's API can do, whatever the routing tables say."""

    def offers(self, gateway_id: str, operation: TransactionType) -> bool:
        """Whether the gateway can carry ``operation`` at all (Stripe: no payouts)."""


class ProviderRegistry(Protocol):
    """Finds the adapter for a gateway id."""

    def get(self, gateway_id: str) -> PaymentProvider | None:
        """The provider, or None when this process has no adapter for it."""
