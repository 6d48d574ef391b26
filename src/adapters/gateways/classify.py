"""Map transport failures and HTTP statuses onto attempt outcome classes.

The class decides whether falling back can pay twice, so it errs towards
``ambiguous`` whenever the gateway may have acted on the request.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from application.ports import GatewayResult
from domain.transaction import AttemptOutcome


@dataclass(frozen=True, slots=True)
class TransportFailure(GatewayResult):
    """A call that got no HTTP answer, with what only the breaker needs to know.

    The outcome class is the money's view and stays as safe as ever; these
    two flags only say whether the failure tells anything about the gateway.
    ResilientProvider reads them and hands a plain GatewayResult onwards.
    """

    # Our own connection pool to the gateway had no free connection: our
    # saturation, not the gateway's, so it must never open its breaker.
    pool_exhausted: bool = False
    # A connect/read/write timeout: the gateway's fault unless our own event
    # loop was too busy to notice the answer in time (resilience.py checks).
    timed_out: bool = False


def transport_failure(exc: httpx.HTTPError) -> TransportFailure:
    """The classified result of a request that produced no HTTP answer."""
    outcome, code = classify_exception(exc)
    pool_exhausted = isinstance(exc, httpx.PoolTimeout)
    return TransportFailure(
        outcome=outcome,
        error_code=code,
        pool_exhausted=pool_exhausted,
        timed_out=isinstance(exc, httpx.TimeoutException) and not pool_exhausted,
    )


def classify_exception(exc: httpx.HTTPError) -> tuple[AttemptOutcome, str]:
    """Outcome and error code for a request that produced no HTTP answer."""
    # Nothing left our side: connecting failed or no pooled connection was free.
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return AttemptOutcome.NOT_SENT, "connect_failed"
    # The request may have been (partly) delivered and acted upon.
    if isinstance(exc, httpx.TimeoutException):
        return AttemptOutcome.AMBIGUOUS, "timeout"
    return AttemptOutcome.AMBIGUOUS, "transport_error"


def classify_status(status: int) -> AttemptOutcome:
    """Outcome class for a non-2xx HTTP status."""
    if status == 503:
        # The gateway says it is unavailable and processed nothing.
        return AttemptOutcome.NOT_SENT
    if status in (408, 409, 425, 429, 500):
        # Refused before acceptance (or a concurrent duplicate): safe to retry
        # with the same idempotency reference.
        return AttemptOutcome.TRANSIENT
    if status in (502, 504) or status >= 500:
        # A proxy gave up waiting: the PSP behind it may have acted.
        return AttemptOutcome.AMBIGUOUS
    return AttemptOutcome.DECLINED
