"""The ``stripe_api`` wire family: Stripe's own API (PaymentIntents, Refunds) and its events.

Unlike ``json`` (our own REST dialect), this family speaks what
``https://api.stripe.com`` speaks, so a gateway of it can point at a real
Stripe account, at stripe-mock, or at the sandbox's emulation
(``entrypoints/sandbox/stripe_psp.py``). It takes deposits and refunds; Stripe
pays users out through another API (Connect payouts), so it offers no withdrawals.
"""

from __future__ import annotations

import secrets

import httpx

from adapters.gateways.health import HealthProbe
from adapters.gateways.stripe_events import FAMILY, StripeEventVerifier
from adapters.gateways.stripe_http import StripeProvider
from adapters.gateways.wire_family import GatewaySetup, WireFamily
from application.ports import CallbackVerifier, PaymentProvider
from domain.transaction import TransactionType


def _adapter(gateway: GatewaySetup, client: httpx.AsyncClient) -> PaymentProvider:
    return StripeProvider(gateway.gateway_id, gateway.url, client, secret_key=gateway.merchant_key)


def _verifier(gateway: GatewaySetup) -> CallbackVerifier:
    return StripeEventVerifier(gateway.gateway_id, gateway.webhook_secrets)


def _health(gateway: GatewaySetup) -> HealthProbe:
    # Stripe has no health route: an authenticated read of the balance is the
    # cheapest call that proves the API answers and still takes our key.
    headers = {"Authorization": f"Bearer {gateway.merchant_key}"} if gateway.merchant_key else {}
    return HealthProbe(f"{gateway.url.rstrip('/')}/v1/balance", headers)


STRIPE_API = WireFamily(
    name=FAMILY,
    adapter=_adapter,
    verifier=_verifier,
    # Stripe's events are JSON; its requests are form-encoded (stripe_wire.FORM).
    content_type="application/json",
    new_webhook_secret=lambda: f"whsec_{secrets.token_urlsafe(32)}",
    new_merchant_key=lambda: f"sk_test_{secrets.token_urlsafe(32)}",
    operations=frozenset({TransactionType.DEPOSIT, TransactionType.REFUND}),
    health_probe=_health,
)
