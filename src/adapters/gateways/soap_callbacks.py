"""The SOAP family's callback verifier (Adyen-style notifications, an HMAC per item)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from adapters.gateways.callbacks import MAX_ID_LENGTH, refuse_control_characters
from adapters.gateways.signing_soap import NotificationItem, verify_adyen_item
from adapters.gateways.soap_http import DEFAULT_MERCHANT_ACCOUNT
from adapters.gateways.soap_notification import parse_notification
from application.ports import GatewayCallback
from domain.errors import MalformedCallback

# Adyen event codes that settle a payment or payout; others are acknowledged
# (Adyen requires [accepted] for every item) but carry nothing to apply.
_SETTLING = {
    "AUTHORISATION": None,  # success decides
    "PAYOUT_THIRDPARTY": None,
    "PAYOUT_DECLINE": "failed",
    "PAYOUT_EXPIRE": "failed",
    "CANCELLATION": "failed",
    # A refund's own notification: pspReference is the refund's, success decides.
    "REFUND": None,
    "REFUND_FAILED": "failed",
}


class AdyenCallbackVerifier:
    family = "soap"

    def __init__(
        self,
        gateway_id: str,
        hex_keys: Sequence[str],
        *,
        merchant_account: str = DEFAULT_MERCHANT_ACCOUNT,
    ) -> None:
        self._gateway_id = gateway_id
        self._keys = list(hex_keys)
        self._merchant_account = merchant_account

    def verify(self, headers: Mapping[str, str], body: bytes) -> list[GatewayCallback]:
        items = parse_notification(body)
        for item in items:  # every item must be signed: one forged item rejects all
            verify_adyen_item(item, self._keys)
        callbacks = [self._callback(item) for item in items if item.event_code in _SETTLING]
        for callback in callbacks:
            refuse_control_characters(callback.event_id, callback.transaction_id, callback.message)
            if len(callback.event_id) > MAX_ID_LENGTH:
                raise MalformedCallback("notification identifiers are too long")
        return callbacks

    def _callback(self, item: NotificationItem) -> GatewayCallback:
        status = _SETTLING[item.event_code] or ("completed" if item.success else "failed")
        success = "true" if item.success else "false"
        return GatewayCallback(
            gateway_id=self._gateway_id,
            # Adyen's own advice: pspReference + eventCode + success identify a notification.
            event_id=f"{item.psp_reference}:{item.event_code}:{success}",
            transaction_id=item.merchant_reference,
            status=status,
            reference_id=item.psp_reference,
            message=item.reason or f"{item.event_code} {'succeeded' if item.success else 'failed'}",
            amount_minor=item.value,
            currency=item.currency,
            mismatch=None
            if item.merchant_account == self._merchant_account
            else f"merchant account {item.merchant_account[:100]!r} is not ours",
        )
