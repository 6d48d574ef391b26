"""What a gateway wire family is: everything the service needs to speak it.

A family (``json``: PayPal/Stripe-like, ``soap``: Adyen-like) is the wire
format a PSP speaks, both ways: how we send it payments and ask about them
(the PaymentProvider adapter) and how it calls us back (the CallbackVerifier).
Each family declares one :class:`WireFamily` in its own module
(``json_family.py``, ``soap_family.py``); ``families.py`` registers them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from adapters.gateways.health import HealthProbe
from application.ports import CallbackVerifier, PaymentProvider
from domain.transaction import TransactionType

ALL_OPERATIONS = frozenset(TransactionType)


@dataclass(frozen=True, slots=True)
class GatewaySetup:
    """One configured gateway, as its family's builders receive it."""

    gateway_id: str
    url: str
    # Our credential at the PSP, sent on every call (None: the PSP refuses us).
    merchant_key: str | None
    # What the PSP signs callbacks with; several during a rotation.
    webhook_secrets: tuple[str, ...]
    # Our merchant account, for families whose messages name it (SOAP).
    merchant_account: str


@dataclass(frozen=True, slots=True)
class WireFamily:
    """One wire family: its name, its two adapters and what its messages look like."""

    name: str
    # The adapter that sends payments and status inquiries to one gateway.
    adapter: Callable[[GatewaySetup, httpx.AsyncClient], PaymentProvider]
    # The verifier of that gateway's signed callbacks.
    verifier: Callable[[GatewaySetup], CallbackVerifier]
    # The Content-Type of the family's requests and callbacks.
    content_type: str
    # Fresh credentials shaped like the PSPs' own, for the embedded default.
    new_webhook_secret: Callable[[], str]
    new_merchant_key: Callable[[], str]
    # The exact body the PSP requires in answer to a callback, if any.
    callback_answer: bytes | None = None
    # What the family's API can do: routing skips a gateway for the rest
    # (Stripe's PaymentIntents API takes deposits and refunds, pays no one out).
    operations: frozenset[TransactionType] = ALL_OPERATIONS
    # What the health checker asks (default: GET <url>/health, no credential).
    health_probe: Callable[[GatewaySetup], HealthProbe] = field(
        default=lambda gateway: HealthProbe(f"{gateway.url.rstrip('/')}/health")
    )

    def offers(self, operation: TransactionType) -> bool:
        """Whether gateways of this family can carry ``operation``."""
        return operation in self.operations
