"""Which answers an Idempotency-Key keeps: the app's answer read back into domain terms."""

from __future__ import annotations

import json

import pytest

from application.idempotency import Outcome, is_decision
from entrypoints.http.idempotency_asgi import outcome_of


def problem(code: str, status: int, **extra: object) -> bytes:
    return json.dumps({"type": f"/problems/{code}", "status": status, **extra}).encode()


@pytest.mark.parametrize(
    ("status", "body", "kept"),
    [
        (201, b'{"id": "t1"}', True),
        (200, b"not json at all", True),
        (402, problem("payment-declined", 402, transaction_id="t1"), True),
        (402, b"", True),  # a 402 is a decline whatever its body
        (422, problem("insufficient-funds", 422), True),
        (404, problem("not-found", 404), True),
        (503, problem("gateways-unavailable", 503, transaction_id="t1"), True),
        (422, problem("invalid-amount", 422), False),
        (400, problem("bad-request", 400), False),
        (401, problem("unauthorized", 401), False),
        (503, problem("service-unavailable", 503), False),
        (500, b"<html>oops</html>", False),
        (500, b"[1, 2]", False),
    ],
)
def test_an_answer_is_kept_only_when_it_is_a_decision(status: int, body: bytes, kept: bool) -> None:
    assert is_decision(outcome_of(status, body)) is kept


def test_a_refusal_reads_as_the_error_code_and_transaction_it_names() -> None:
    body = problem("payment-declined", 402, transaction_id="t1")
    assert outcome_of(402, body) == Outcome(False, "payment-declined", "t1")
    assert outcome_of(422, problem("insufficient-funds", 422)) == Outcome(
        False, "insufficient-funds"
    )
