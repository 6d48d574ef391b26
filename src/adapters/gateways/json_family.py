"""The JSON wire family (PayPal/Stripe-like): REST over JSON, Stripe-style signed events."""

from __future__ import annotations

import secrets

import httpx

from adapters.gateways.json_callbacks import JsonCallbackVerifier
from adapters.gateways.json_http import CONTENT_TYPE, JsonGatewayProvider
from adapters.gateways.wire_family import GatewaySetup, WireFamily
from application.ports import CallbackVerifier, PaymentProvider


def _adapter(gateway: GatewaySetup, client: httpx.AsyncClient) -> PaymentProvider:
    return JsonGatewayProvider(
        gateway.gateway_id, gateway.url, client, merchant_key=gateway.merchant_key
    )


def _verifier(gateway: GatewaySetup) -> CallbackVerifier:
    return JsonCallbackVerifier(gateway.gateway_id, gateway.webhook_secrets)


JSON = WireFamily(
    name="json",
    adapter=_adapter,
    verifier=_verifier,
    content_type=CONTENT_TYPE,
    # Stripe-style: a string webhook secret and a secret API key.
    new_webhook_secret=lambda: f"whsec_{secrets.token_urlsafe(32)}",
    new_merchant_key=lambda: f"sk_{secrets.token_urlsafe(32)}",
)
