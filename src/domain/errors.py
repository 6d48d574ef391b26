"""The one error hierarchy of the domain and application layers.

Every error carries a stable machine-readable ``code``; the HTTP edge maps
codes to statuses and problem types, so renaming a code is a contract change.
"""

from __future__ import annotations

from datetime import datetime


class PaymentError(Exception):
    """Base of every error the service raises on purpose."""

    code = "payment-error"

    def __init__(self, detail: str, *, transaction_id: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.transaction_id = transaction_id


class InvalidInput(PaymentError):
    """Input that is well-formed but breaks a rule (amount, currency, country)."""

    code = "invalid-input"


class InvalidAmount(InvalidInput):
    code = "invalid-amount"


class UnknownCurrency(InvalidInput):
    code = "unknown-currency"


class InsufficientFunds(InvalidInput):
    """The available balance does not cover the withdrawal."""

    code = "insufficient-funds"


class LedgerLimitExceeded(InvalidInput):
    """A balance would leave the range the ledger can store (a hostile or absurd amount)."""

    code = "ledger-limit-exceeded"


class LimitExceeded(InvalidInput):
    """A velocity limit of the user's country refuses the payment (domain/limits.py)."""

    code = "limit-exceeded"

    def __init__(self, detail: str, *, limit: str, window: str, resets_at: datetime | None) -> None:
        super().__init__(detail)
        self.limit = limit  # max_amount | daily_amount | daily_count
        self.window = window  # transaction | 24h
        self.resets_at = resets_at  # None: waiting will not help


class IllegalTransition(PaymentError):
    """A state change the transaction state machine forbids."""

    code = "illegal-transition"


class NotRefundable(IllegalTransition):
    """Only a completed deposit can be refunded (domain/refunds.py)."""

    code = "not-refundable"


class RefundExceedsPayment(InvalidInput):
    """The refund asks for more than is left of the deposit to refund."""

    code = "refund-exceeds-payment"


class NotFound(PaymentError):
    code = "not-found"


class NoEligibleGateway(PaymentError):
    """No gateway is configured for this country, currency and operation."""

    code = "no-eligible-gateway"


class PaymentDeclined(PaymentError):
    """The gateway refused the payment for good; no fallback is tried."""

    code = "payment-declined"


class GatewaysUnavailable(PaymentError):
    """Every eligible gateway failed for technical reasons."""

    code = "gateways-unavailable"


class ConcurrentUpdate(PaymentError):
    """Someone else changed the row since we read it (optimistic lock)."""

    code = "concurrent-update"


class ServiceUnavailable(PaymentError):
    """A dependency we cannot work without (the database) is not answering."""

    code = "service-unavailable"


class CallbackRejected(PaymentError):
    """A gateway callback we refuse to store or apply."""

    code = "callback-rejected"


class InvalidSignature(CallbackRejected):
    """Missing, forged or stale signature (or an unknown signing key)."""

    code = "invalid-signature"


class MalformedCallback(CallbackRejected):
    """A body that is not a well-formed callback of the gateway's family."""

    code = "malformed-callback"
