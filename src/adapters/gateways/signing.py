"""Signing and verification of gateway callbacks, both families, in one import.

* JSON gateways: Stripe's ``Stripe-Signature`` scheme in our ``X-Signature``
  header (:mod:`adapters.gateways.signing_json`).
* SOAP gateways: Adyen's SOAP notifications (:mod:`adapters.gateways.soap_notification`)
  and their per-item ``hmacSignature`` (:mod:`adapters.gateways.signing_soap`).

They live in their own modules to stay small; this one gathers them for the
compatibility tests.
"""

from __future__ import annotations

from adapters.gateways.signing_json import (
    DEFAULT_TOLERANCE_S,
    SIGNATURE_HEADER,
    sign_json,
    verify_json,
)
from adapters.gateways.signing_soap import (
    HMAC_SIGNATURE_KEY,
    NotificationItem,
    adyen_hmac,
    adyen_signing_string,
    sign_adyen_item,
    verify_adyen_item,
)
from adapters.gateways.soap_notification import ACCEPTED, build_notification, parse_notification

__all__ = [
    "ACCEPTED",
    "DEFAULT_TOLERANCE_S",
    "HMAC_SIGNATURE_KEY",
    "SIGNATURE_HEADER",
    "NotificationItem",
    "adyen_hmac",
    "adyen_signing_string",
    "build_notification",
    "parse_notification",
    "sign_adyen_item",
    "sign_json",
    "verify_adyen_item",
    "verify_json",
]
