"""A token bucket per API key, as Stripe has: 429 with ``Retry-After`` past it.

Each known key (client or admin) gets ``burst`` tokens, refilled at
``rate_per_s``; every request with that key takes one. A request with no
key or an unknown one is not counted here: it gets its 401 from the auth
guard, and an attacker cannot grow the table with made-up keys.

The buckets live in the worker process: with N workers and R replicas a
key may get up to N x R times the rate (docs/operations.md says so). That is
the usual trade for a limiter that costs no round trip; a shared limit
would need PostgreSQL or Redis on every request.

Health, readiness, metrics, the schema, gateway callbacks, the dashboard
(its logins are throttled by client address instead) and the sandbox are
never limited.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from litestar.middleware import DefineMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from entrypoints.http.auth import ApiKeys, bearer_key
from entrypoints.http.paths import CALLBACKS, INFRASTRUCTURE, NOT_API
from entrypoints.http.raw import Problem, header, send_problem

UNLIMITED_PREFIXES = (*INFRASTRUCTURE, CALLBACKS, *NOT_API)


@dataclass(slots=True)
class TokenBucket:
    """``burst`` tokens, refilled continuously at ``rate_per_s``."""

    rate_per_s: float
    burst: int
    tokens: float
    updated: float

    def take(self, now: float) -> float:
        """Take a token: 0.0 when granted, else the seconds until one is due."""
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate_per_s)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate_per_s


class RateLimitMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        rate_per_s: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._app = app
        self._rate = rate_per_s
        self._burst = burst
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        http: Any = scope
        if self._rate <= 0 or http["type"] != "http" or http["path"].startswith(UNLIMITED_PREFIXES):
            await self._app(scope, receive, send)
            return
        key = bearer_key((header(http["headers"], b"authorization") or b"").decode("latin-1"))
        wait = 0.0 if key is None else self._wait(key, http)
        if wait > 0:
            retry_after = max(1, math.ceil(wait))
            detail = (
                f"this API key is limited to {self._rate:g} requests/s "
                f"(bursts of {self._burst}); retry after {retry_after} s"
            )
            await send_problem(
                send,
                Problem(429, "too-many-requests", "Too many requests", detail),
                headers=[(b"retry-after", str(retry_after).encode())],
            )
            return
        await self._app(scope, receive, send)

    def _wait(self, key: str, scope: Any) -> float:
        bucket = self._buckets.get(key)
        now = self._clock()
        if bucket is None:
            keys: ApiKeys = scope["app"].state["api_keys"]
            if keys.role_of(key) is None:
                return 0.0  # unknown: the auth guard answers 401
            bucket = TokenBucket(self._rate, self._burst, float(self._burst), now)
            self._buckets[key] = bucket
        return bucket.take(now)


def rate_limit_middleware(rate_per_s: float, burst: int) -> DefineMiddleware:
    return DefineMiddleware(RateLimitMiddleware, rate_per_s=rate_per_s, burst=burst)
