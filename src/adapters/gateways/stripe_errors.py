"""Stripe's error objects, classified into our attempt outcome classes.

Stripe answers a refusal with an HTTP status and
``{"error": {"type", "code"?, "decline_code"?, "message"?}}``
(https://docs.stripe.com/api/errors). The class decides whether a retry or
a fallback may pay twice, so:

- ``card_error`` (402): the payer's bank said no → ``declined``, no fallback;
- rate limits (429), ``api_error`` and 5xx: Stripe did not complete the
  request, and a retry under the same ``Idempotency-Key`` is safe → ``transient``;
- 409 (a concurrent request under the same key) → ``transient`` as well;
- 401/403 (our key is wrong or lacks permission): nothing was done → ``not_sent``;
- any other 4xx (``invalid_request_error``): the request itself is wrong, so
  every retry would be too → ``declined``.

Connection failures (``not_sent``) and timeouts (``ambiguous``) never get
this far: ``classify.transport_failure`` decides them, as for every family.
"""

from __future__ import annotations

import msgspec

from application.ports import GatewayResult
from domain.transaction import AttemptOutcome


class StripeError(msgspec.Struct):
    type: str = "api_error"
    code: str | None = None
    decline_code: str | None = None
    message: str | None = None


class _ErrorBody(msgspec.Struct):
    error: StripeError


_error = msgspec.json.Decoder(_ErrorBody)


def read_error(content: bytes) -> StripeError | None:
    """The error object of an answer body, or None when it has none."""
    try:
        return _error.decode(content).error
    except msgspec.DecodeError:
        return None


def outcome_of(status: int, error: StripeError | None) -> AttemptOutcome:
    """The outcome class of a non-2xx answer."""
    kind = error.type if error else None
    if status == 402 or kind == "card_error":
        return AttemptOutcome.DECLINED
    if status in (409, 429) or status >= 500 or kind == "api_error":
        return AttemptOutcome.TRANSIENT
    if status in (401, 403):
        return AttemptOutcome.NOT_SENT
    return AttemptOutcome.DECLINED


def classify_error(status: int, content: bytes) -> GatewayResult:
    """The classified result of a refusal, with Stripe's most specific code."""
    error = read_error(content)
    if error is None:
        return GatewayResult(outcome=outcome_of(status, None), error_code=f"http_{status}")
    code = error.decline_code or error.code or error.type
    return GatewayResult(
        outcome=outcome_of(status, error), error_code=code, message=error.message or code
    )
