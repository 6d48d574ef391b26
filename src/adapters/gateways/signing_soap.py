"""The HMAC signatures of Adyen's SOAP notification items.

Signature (https://docs.adyen.com/development-resources/webhooks/verify-hmac-signatures):
base64(HMAC-SHA256(hex-decoded key, signing string)) in
``additionalData.hmacSignature``, the signing string being
``pspReference:originalReference:merchantAccountCode:merchantReference:value:
currency:eventCode:success`` with empty strings for missing values and no
escaping at all, exactly as ``Adyen.util.generate_notification_sig`` joins it.
The notifications themselves are written and read in ``soap_notification.py``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from domain.errors import InvalidSignature

HMAC_SIGNATURE_KEY = "hmacSignature"


@dataclass(frozen=True, slots=True)
class NotificationItem:
    """One ``NotificationRequestItem``; ``value`` in minor units."""

    psp_reference: str
    original_reference: str
    merchant_account: str
    merchant_reference: str
    value: int
    currency: str
    event_code: str
    success: bool
    reason: str = ""
    event_date: str = ""
    # On the wire, the signature travels here as "hmacSignature".
    additional_data: dict[str, str] = field(default_factory=dict)


# -- signatures -------------------------------------------------------------------
def adyen_signing_string(item: NotificationItem) -> str:
    """The colon-joined fields Adyen signs, in Adyen's order, unescaped."""
    return ":".join(
        (
            item.psp_reference,
            item.original_reference,
            item.merchant_account,
            item.merchant_reference,
            str(item.value),
            item.currency,
            item.event_code,
            # Adyen signs the wire text; Python's str(True) would be "True".
            "true" if item.success else "false",
        )
    )


def _hmac_bytes(item: NotificationItem, hex_key: str) -> bytes:
    try:
        key = binascii.unhexlify(hex_key)
    except (binascii.Error, ValueError):
        # The key's text stays out of the message: it is a secret.
        raise ValueError("the Adyen HMAC key must be hexadecimal") from None
    digest = hmac.new(key, adyen_signing_string(item).encode(), hashlib.sha256).digest()
    return base64.b64encode(digest)


def adyen_hmac(item: NotificationItem, hex_key: str) -> str:
    """Base64 HMAC-SHA256 of the signing string with the hex-decoded key."""
    return _hmac_bytes(item, hex_key).decode("ascii")


def sign_adyen_item(item: NotificationItem, hex_key: str) -> NotificationItem:
    """A copy of ``item`` carrying its ``hmacSignature`` in additional_data."""
    signature = adyen_hmac(item, hex_key)
    return replace(item, additional_data={**item.additional_data, HMAC_SIGNATURE_KEY: signature})


def verify_adyen_item(item: NotificationItem, hex_keys: Sequence[str]) -> None:
    """Raise InvalidSignature unless ``hmacSignature`` matches one of ``hex_keys``.

    Several keys serve a rotation (Adyen lets the old key live on briefly).
    Every key is tried, without stopping at a match, so timing reveals
    nothing. A key that is not hexadecimal raises ValueError (configuration).
    """
    received = item.additional_data.get(HMAC_SIGNATURE_KEY)
    if not received:
        raise InvalidSignature("notification item has no hmacSignature")
    received_bytes = received.encode()  # bytes: non-ASCII text fails, never raises
    matched = False
    for hex_key in hex_keys:
        matched |= hmac.compare_digest(_hmac_bytes(item, hex_key), received_bytes)
    if not matched:
        raise InvalidSignature("notification item signature does not match")
