"""The SOAP wire family (Adyen-like): SOAP 1.1 envelopes, notifications with an HMAC per item."""

from __future__ import annotations

import secrets

import httpx

from adapters.gateways.soap_callbacks import AdyenCallbackVerifier
from adapters.gateways.soap_http import CONTENT_TYPE, SoapGatewayProvider
from adapters.gateways.soap_notification import ACCEPTED
from adapters.gateways.wire_family import GatewaySetup, WireFamily
from application.ports import CallbackVerifier, PaymentProvider


def _adapter(gateway: GatewaySetup, client: httpx.AsyncClient) -> PaymentProvider:
    return SoapGatewayProvider(
        gateway.gateway_id,
        gateway.url,
        client,
        gateway.merchant_account,
        merchant_key=gateway.merchant_key,
    )


def _verifier(gateway: GatewaySetup) -> CallbackVerifier:
    return AdyenCallbackVerifier(
        gateway.gateway_id, gateway.webhook_secrets, merchant_account=gateway.merchant_account
    )


SOAP = WireFamily(
    name="soap",
    adapter=_adapter,
    verifier=_verifier,
    content_type=CONTENT_TYPE,
    # Adyen-style: a hex HMAC key and an API key.
    new_webhook_secret=lambda: secrets.token_hex(32).upper(),
    new_merchant_key=lambda: f"AQE_{secrets.token_urlsafe(32)}",
    callback_answer=ACCEPTED,
)
