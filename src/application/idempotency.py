"""Idempotency keys (Stripe semantics) for requests that move money.

- same key, same request  -> the stored response again (marked as a replay);
- same key, other request -> refused (422): the client mixed up its keys;
- same key while the first request still runs -> 409, try again later.
Keys are scoped to the API key that used them and kept at least 24 hours.

Only answers that are decisions are stored: a created transaction, a
decline, refusals that carry a transaction id, insufficient funds, unknown
user. Anything else (validation errors, auth errors, database outages,
crashes) releases the key so the client can simply retry with it.
"""

from __future__ import annotations

import hashlib
import json

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


def is_decision(status: int, body: bytes) -> bool:
    """Whether a response is a final answer worth replaying."""
    if 200 <= status < 300 or status == 402:
        return True
    try:
        problem = json.loads(body)
    except ValueError:
        return False
    if not isinstance(problem, dict):
        return False
    if problem.get("transaction_id"):
        return True  # a transaction exists: the answer must not change
    return str(problem.get("type", "")).endswith(("insufficient-funds", "not-found"))
