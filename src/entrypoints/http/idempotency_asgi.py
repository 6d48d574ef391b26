"""Raw ASGI pieces of the idempotency middleware: its answers, and what an answer meant."""

from __future__ import annotations

import json
from typing import Any

from application.idempotency import Outcome
from application.ports import StoredResponse
from domain.errors import PaymentDeclined
from entrypoints.http.raw import Problem, bad_request, send_response

REPLAYED = (b"idempotent-replayed", b"true")
NO_STORE = (b"cache-control", b"no-store")  # answers carry transactions and money

BAD_KEY = bad_request("Idempotency-Key must be 1-255 printable ASCII characters")
TOO_LARGE = Problem(413, "payload-too-large", "Payload too large", "request body too large")
REUSED = Problem(
    422,
    "idempotency-key-reused",
    "Idempotency key reused",
    "this Idempotency-Key was used with a different request",
)
IN_USE = Problem(
    409,
    "idempotency-key-in-use",
    "Request in progress",
    "a request with this Idempotency-Key is still being processed; retry later",
)
UNAVAILABLE = Problem(
    503, "service-unavailable", "Service unavailable", "the database is not reachable"
)


def outcome_of(status: int, body: bytes) -> Outcome:
    """What the app's answer means in the use cases' terms (problems.py, read backwards)."""
    if 200 <= status < 300:
        return Outcome(succeeded=True)
    try:
        problem = json.loads(body)
    except ValueError:
        problem = None
    if not isinstance(problem, dict):
        problem = {}
    # A problem's type is /problems/{code}; 402 is only ever a decline.
    code = str(problem.get("type", "")).rpartition("/")[2] or None
    if status == 402:
        code = PaymentDeclined.code
    transaction_id = problem.get("transaction_id")
    return Outcome(False, code, str(transaction_id) if transaction_id else None)


async def send_stored(send: Any, response: StoredResponse) -> None:
    headers = [
        (b"content-type", response.content_type.encode("latin-1")),
        (b"content-length", str(len(response.body)).encode()),
        NO_STORE,
        REPLAYED,
    ]
    await send_response(send, response.status, headers, response.body)
