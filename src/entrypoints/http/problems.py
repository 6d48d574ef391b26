"""One mapping from errors to RFC 9457 problem+json responses."""

from __future__ import annotations

import logging
import traceback
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

from domain.errors import (
    ConcurrentUpdate,
    GatewaysUnavailable,
    IllegalTransition,
    InsufficientFunds,
    InvalidInput,
    InvalidSignature,
    LimitExceeded,
    MalformedCallback,
    NoEligibleGateway,
    NotFound,
    PaymentDeclined,
    PaymentError,
    ServiceUnavailable,
)
from entrypoints.http.raw import PROBLEM_JSON, problem_body

log = logging.getLogger(__name__)


# Most specific first: the first isinstance match wins.
_STATUS: list[tuple[type[PaymentError], int, str]] = [
    (NotFound, 404, "Not found"),
    (InvalidSignature, 401, "Invalid signature"),
    (MalformedCallback, 400, "Malformed callback"),
    (NoEligibleGateway, 422, "No eligible gateway"),
    (InsufficientFunds, 422, "Insufficient funds"),
    (LimitExceeded, 422, "Limit exceeded"),
    (InvalidInput, 422, "Invalid input"),
    (PaymentDeclined, 402, "Payment declined"),
    (GatewaysUnavailable, 503, "No gateway available"),
    (ServiceUnavailable, 503, "Service unavailable"),
    (ConcurrentUpdate, 409, "Conflict"),
    (IllegalTransition, 409, "Conflict"),
]

_HTTP_CODES = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "unprocessable",
    429: "too-many-requests",
    503: "service-unavailable",
}


def problem(
    status: int,
    code: str,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response[dict[str, Any]]:
    body = problem_body(status, code, title, detail, **extra)
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def payment_error_handler(_: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    assert isinstance(exc, PaymentError)
    if isinstance(exc, LimitExceeded):
        response = problem(422, exc.code, "Limit exceeded", exc.detail, limit=exc.limit)
        # Always present (null: waiting will not help), as the contract names it.
        response.content.update(
            window=exc.window,
            resets_at=exc.resets_at.isoformat().replace("+00:00", "Z") if exc.resets_at else None,
        )
        return response
    for kind, status, title in _STATUS:
        if isinstance(exc, kind):
            return problem(status, exc.code, title, exc.detail, transaction_id=exc.transaction_id)
    log.error("unmapped payment error %s", exc.code)
    return problem(500, exc.code, "Internal error", "unexpected error")


def http_exception_handler(_: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    code = _HTTP_CODES.get(status, f"http-{status}")
    headers = dict(exc.headers or {})
    if status == 401:
        headers.setdefault("WWW-Authenticate", "Bearer")
    extra: dict[str, Any] = {}
    if isinstance(exc, ValidationException) and exc.extra:
        extra["errors"] = exc.extra
    if status >= 500:
        log.error("HTTP %s: %s", status, exc.detail)
    return problem(status, code, exc.__class__.__name__, str(exc.detail), headers, **extra)


def unhandled_exception_handler(
    _: Request[Any, Any, Any], exc: Exception
) -> Response[dict[str, Any]]:
    log.exception("unhandled error", exc_info=exc)
    return problem(500, "internal-error", "Internal error", "an unexpected error occurred")


# Two ways undecodable input escapes the decoders' own error types: msgspec
# refuses a document nested deeper than the recursion limit with a
# RecursionError, and a JSON string that is not UTF-8 with a UnicodeDecodeError,
# neither a msgspec.DecodeError, so Litestar (and our callback verifiers) let
# them through as 500s. Both are the client's input: 400. A RecursionError with
# another message stays a server error; a UnicodeDecodeError is logged with
# where it came from, in case one ever comes from our own data.
_TOO_DEEP = "while deserializing an object"


def recursion_error_handler(
    request: Request[Any, Any, Any], exc: Exception
) -> Response[dict[str, Any]]:
    if _TOO_DEEP in str(exc):
        return problem(400, "bad-request", "Bad request", "the body is nested too deeply")
    return unhandled_exception_handler(request, exc)


def unicode_error_handler(_: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"
    log.warning("undecodable input (%s at %s)", type(exc).__name__, where)
    return problem(400, "bad-request", "Bad request", "the body is not valid UTF-8")


EXCEPTION_HANDLERS = {
    PaymentError: payment_error_handler,
    HTTPException: http_exception_handler,
    RecursionError: recursion_error_handler,
    UnicodeDecodeError: unicode_error_handler,
    Exception: unhandled_exception_handler,
}
