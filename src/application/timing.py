"""Time spent waiting on gateways, per request (for the Server-Timing header).

The HTTP edge opens a budget per request; the dispatcher adds each gateway
call to it. Orchestration overhead = total latency - gateway time, which is
what the benchmark reports. Standard library only.
"""

from __future__ import annotations

from contextvars import ContextVar

_gateway_ms: ContextVar[list[float] | None] = ContextVar("payments_gateway_ms", default=None)


def start_request() -> list[float]:
    """Begin counting for this request; returns the accumulator to read later."""
    acc = [0.0]
    _gateway_ms.set(acc)
    return acc


def add_gateway_time(ms: float) -> None:
    acc = _gateway_ms.get()
    if acc is not None:
        acc[0] += ms
