"""Idempotency keys (Stripe semantics) for requests that move money.

- same key, same request  -> the stored response again (marked as a replay);
- same key, other request -> refused (422): the client mixed up its keys;
- same key while the first request still runs -> 409, try again later.
Keys are scoped to the API key that used them and kept at least 24 hours.

"Still runs" is a lease: the request holding a key renews it while it runs
(default 60 s, PAYMENTS_IDEMPOTENCY_LEASE_S). A key whose lease ran out lost
its request (the process died, kill -9); the next retry takes it over. The
key names its transaction before that transaction can exist: the id is
reserved when the key is claimed and the use case creates the transaction
under it (``reserving`` / ``take_reserved_id``). So after a crash at any
point either no transaction has that id (the retry processes the request,
under the same id, so even a request that only seemed dead cannot create a
second one) or it exists and the retry answers with its current state.

Only answers that are decisions are stored: a created transaction, a
decline, refusals that carry a transaction id, insufficient funds, unknown
user. Anything else (validation errors, auth errors, database outages,
crashes) releases the key so the client can simply retry with it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from domain.errors import InsufficientFunds, NotFound, PaymentDeclined

MIN_TTL_S = 24 * 3600
MAX_KEY_LENGTH = 255


def fingerprint(method: str, path: str, body: bytes) -> str:
    """What makes two requests 'the same' for a key."""
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def scope_of(api_key: str) -> str:
    """Keys are per API key; only a digest of the API key is stored."""
    return hashlib.sha256(api_key.encode()).hexdigest()


def valid_key(key: str) -> bool:
    return (
        0 < len(key) <= MAX_KEY_LENGTH
        and key.isprintable()
        and key.isascii()
        and key.strip() == key
    )


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a request under a key came to, in the use cases' terms."""

    succeeded: bool
    error_code: str | None = None  # the `PaymentError.code` it was refused with, if known
    transaction_id: str | None = None  # the transaction a refusal names, if any


# Refusals that are answers about the request itself, not about this moment:
# retried, the request would get the same answer.
_FINAL_REFUSALS = frozenset({PaymentDeclined.code, InsufficientFunds.code, NotFound.code})


def is_decision(outcome: Outcome) -> bool:
    """Whether an outcome is a final answer worth replaying."""
    if outcome.succeeded or outcome.transaction_id:
        return True  # a transaction exists: the answer must not change
    return outcome.error_code in _FINAL_REFUSALS


@dataclass(slots=True)
class Reservation:
    """The transaction id a key holds for the request running under it."""

    transaction_id: str
    taken: bool = False  # the use case created (or tried to) a transaction with it


_reservation: ContextVar[Reservation | None] = ContextVar(
    "payments_idempotency_reservation", default=None
)


@contextmanager
def reserving(transaction_id: str) -> Iterator[Reservation]:
    """Inside the block, the first transaction a use case creates gets ``transaction_id``.

    A context variable, like log_context's bindings: the request handler runs
    in the middleware's task, so the reservation follows every ``await`` into
    the use case and never leaks into a concurrent request.
    """
    reservation = Reservation(transaction_id)
    token = _reservation.set(reservation)
    try:
        yield reservation
    finally:
        _reservation.reset(token)


def take_reserved_id() -> str | None:
    """The reserved transaction id, once per request; None without a key."""
    reservation = _reservation.get()
    if reservation is None or reservation.taken:
        return None
    reservation.taken = True
    return reservation.transaction_id
