"""Admission control: shed payment requests beyond a per-worker cap, at once.

Past its knee a worker does not serve more by taking more: every extra
payment queues for a database connection and the CPU, every request slows,
gateway calls time out, and the breakers end up blaming healthy gateways.
So a worker runs at most ``limit`` payment requests at a time and refuses
the rest immediately, before anything is read, claimed or written: a 503
problem+json with ``Retry-After``. Nothing was recorded, so the client may
retry with the same Idempotency-Key.

Callbacks have a cap of their own, larger: they settle payments already
under way, so new payments are shed first, and a gateway retries a refused
callback. Every other route is untouched.

Two signals, either of which sheds:
- the event loop's lag (``max_lag_s``): a worker whose loop runs late is out
  of CPU, whatever its gateways' latency, and every request it takes on
  waits longer still. This is the knee on any box and for any PSP;
- a hard cap on requests in flight (``limit``): memory and sockets stay
  bounded even if the loop keeps up (slow gateways mean many requests
  waiting cheaply, which is fine up to a point).

A plain counter is enough: the event loop runs one coroutine at a time, and
the check and the increment have no ``await`` between them. No queueing:
the requests that would wait are the ones that make everyone late.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litestar.middleware import DefineMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from adapters.observability import HTTP_SHED
from entrypoints.http.paths import is_callback, is_payment
from entrypoints.http.raw import Problem, problem_headers, send_response

RETRY_AFTER_S = 1


class Gate:
    """How many requests of one kind this worker runs at once, and how many it may.

    One per kind per app: Litestar builds the middleware once per route, and
    the routes of one kind must share their count.
    """

    def __init__(
        self,
        kind: str,
        limit: int,
        *,
        max_lag_s: float = 0.0,
        lag: Callable[[], float] = lambda: 0.0,
    ) -> None:
        self.kind = kind
        self.limit = limit  # 0: no limit
        self.max_lag_s = max_lag_s  # 0: lag is not looked at
        self._lag = lag
        self.inflight = 0
        detail = (
            f"this instance is at its limit for {kind} requests (at most {limit} at "
            "once, or its CPU is saturated); "
            f"nothing was recorded, retry after {RETRY_AFTER_S} s "
            "(with the same Idempotency-Key, if any)"
        )
        self._body = Problem(503, "overloaded", "Overloaded", detail).encode()
        self._headers = problem_headers(
            len(self._body), [(b"retry-after", str(RETRY_AFTER_S).encode())]
        )

    def full(self) -> bool:
        """No room for one more: at the cap, or the loop already runs late."""
        if self.limit > 0 and self.inflight >= self.limit:
            return True
        return self.max_lag_s > 0 and self._lag() > self.max_lag_s

    async def refuse(self, send: Any) -> None:
        """The 503, built ahead: shedding must cost less than serving."""
        HTTP_SHED.labels(self.kind).inc()
        await send_response(send, 503, self._headers, self._body)


class AdmissionMiddleware:
    def __init__(self, app: ASGIApp, *, payments: Gate, callbacks: Gate) -> None:
        self._app = app
        self._payments = payments
        self._callbacks = callbacks

    def _gate(self, scope: Any) -> Gate | None:
        if scope["type"] != "http" or scope["method"] != "POST":
            return None
        path: str = scope["path"]
        if is_payment(path):
            return self._payments
        if is_callback(path):
            return self._callbacks
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        gate = self._gate(scope)
        if gate is None:
            await self._app(scope, receive, send)
            return
        if gate.full():
            await gate.refuse(send)
            return
        gate.inflight += 1
        try:
            await self._app(scope, receive, send)
        finally:
            gate.inflight -= 1


def admission_middleware(
    payments: int, callbacks: int, max_lag_s: float = 0.0, lag: Callable[[], float] | None = None
) -> DefineMiddleware:
    """Caps for payments and callbacks (0 turns one off) and the loop lag that sheds.

    Callbacks shed at twice the lag that sheds payments: they settle work
    already under way, so new payments go first.
    """
    probe = lag or (lambda: 0.0)
    return DefineMiddleware(
        AdmissionMiddleware,
        payments=Gate("payment", payments, max_lag_s=max_lag_s, lag=probe),
        callbacks=Gate("callback", callbacks, max_lag_s=2 * max_lag_s, lag=probe),
    )
