"""Which routes are which, for the middlewares that see only a path.

The plain-ASGI middlewares run before Litestar has routed the request, so
they tell payments, callbacks and the pages that are not API routes apart
by path; those sets are written here once.
"""

from __future__ import annotations

import re

# The routes that move money: idempotency keys, XML, their own admission cap.
PAYMENTS = frozenset({"/deposit", "/withdrawal"})
# Gateway callbacks: ``/callback/{gateway_id}``.
CALLBACKS = "/callback/"
# Not the API: the dashboard's forms and the sandbox PSPs police themselves.
NOT_API = ("/dashboard", "/sandbox")
# Probes, metrics and the schema: infrastructure, never rate limited.
INFRASTRUCTURE = ("/health", "/ready", "/metrics", "/schema")


# Refunds move money too: ``/transactions/{id}/refunds``.
_REFUNDS = re.compile(r"/transactions/[^/]+/refunds/?")


def is_payment(path: str) -> bool:
    return path in PAYMENTS or _REFUNDS.fullmatch(path) is not None


def is_callback(path: str) -> bool:
    return path.startswith(CALLBACKS)


def without_trailing_slash(path: str) -> str:
    # Litestar routes "/deposit/" to the same handler as "/deposit".
    return path.rstrip("/") or "/"
