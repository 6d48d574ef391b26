"""Per-gateway runtime state: circuit breaker, health, recent outcomes.

One GatewayMonitor per gateway per process (a Singleton in the container).
It answers the application's GatewayAvailability port and feeds
``GET /gateways``.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from aiobreaker import CircuitBreaker, CircuitBreakerState
from aiobreaker.storage.memory import CircuitMemoryStorage

from application.ports import GatewayRuntime

Health = Literal["healthy", "unhealthy", "unknown"]
BreakerState = Literal["closed", "open", "half_open"]
WINDOW = 100  # recent calls kept for success rate and latency


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    fail_max: int = 5
    reset_timeout_s: float = 30.0


class GatewayMonitor:
    def __init__(self, gateway_id: str, policy: BreakerPolicy) -> None:
        self.gateway_id = gateway_id
        # Our own handle on the storage: aiobreaker's time_until_open crashes once
        # the timeout has passed, so "is a trial due?" is answered here instead,
        # with the same naive-UTC clock aiobreaker's open state uses.
        self._storage = CircuitMemoryStorage(CircuitBreakerState.CLOSED)
        self._reset_timeout = timedelta(seconds=policy.reset_timeout_s)
        self.breaker = CircuitBreaker(
            fail_max=policy.fail_max,
            timeout_duration=self._reset_timeout,
            state_storage=self._storage,
            name=gateway_id,
        )
        self.health: Health = "unknown"
        self.health_checked_at: float | None = None
        # aiobreaker's lock does not serialise coroutines: this flag lets only
        # one trial call through while the breaker is open or half-open.
        self.probe_in_flight = False
        self._recent: deque[tuple[bool, int]] = deque(maxlen=WINDOW)
        self.calls = 0

    @property
    def breaker_state(self) -> BreakerState:
        state = self.breaker.current_state
        if state is CircuitBreakerState.OPEN:
            return "open"
        if state is CircuitBreakerState.HALF_OPEN:
            return "half_open"
        return "closed"

    def breaker_blocks(self) -> bool:
        """Open and not yet due for a trial call."""
        if self.breaker_state != "open":
            return False
        opened_at = self._storage.opened_at
        return opened_at is not None and _utcnow() < opened_at + self._reset_timeout

    def record_call(self, ok: bool, latency_ms: int) -> None:
        self.calls += 1
        self._recent.append((ok, latency_ms))

    def set_health(self, health: Health) -> None:
        self.health = health
        self.health_checked_at = time.time()

    def runtime(self) -> GatewayRuntime:
        recent = list(self._recent)
        latencies = sorted(latency for _, latency in recent)
        return GatewayRuntime(
            health=self.health,
            breaker=self.breaker_state,
            success_rate=(sum(ok for ok, _ in recent) / len(recent)) if recent else None,
            latency_ms_p50=latencies[len(latencies) // 2] if latencies else None,
            latency_ms_p95=latencies[int(len(latencies) * 0.95)] if latencies else None,
            recent_calls=len(recent),
        )


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class LoopLag:
    """How late this process's event loop has been running lately.

    A ticker task sleeps ``interval_s`` and records how late it woke: the loop
    was busy with other work for that long, and any answer that arrived
    meanwhile waited unread. Twenty wake-ups a second cost next to nothing.
    The task starts on first use inside a running loop (never at import
    time), and moves to another loop when used from one (tests run several;
    a worker process runs one).
    """

    def __init__(self, interval_s: float = 0.05, window: int = 1024) -> None:
        self._interval = interval_s
        self._late: deque[tuple[float, float]] = deque(maxlen=window)  # (woke at, late by)
        self._due: float | None = None  # when the ticker should wake next
        self._task: asyncio.Task[None] | None = None
        self._smoothed = 0.0  # recent lateness, exponentially weighted

    def ensure_running(self) -> None:
        loop = asyncio.get_running_loop()
        task = self._task
        if task is not None and not task.done() and task.get_loop() is loop:
            return
        if task is not None and not task.done() and not task.get_loop().is_closed():
            task.get_loop().call_soon_threadsafe(task.cancel)  # another loop's ticker
        self._late.clear()
        self._due = None
        self._task = loop.create_task(self._tick(), name="loop-lag")

    async def _tick(self) -> None:
        while True:
            self._due = time.monotonic() + self._interval
            await asyncio.sleep(self._interval)
            now = time.monotonic()
            late = max(0.0, now - self._due)
            self._late.append((now, late))
            self._smoothed += SMOOTHING * (late - self._smoothed)

    def lag_s(self) -> float:
        """How late the loop runs now: recent lateness, or a stall still going on.

        Smoothed over the last few ticks, so one garbage-collection pause does
        not read as overload, while a loop that stays behind does.
        """
        ongoing = time.monotonic() - self._due if self._due is not None else 0.0
        return max(self._smoothed, ongoing)

    def stalled_s(self, since: float) -> float:
        """Seconds since ``since`` (monotonic) that the loop spent running late."""
        now = time.monotonic()
        stalled = 0.0
        for woke, late in reversed(self._late):
            if woke <= since:
                break
            stalled += min(late, woke - since)
        if self._due is not None and now > self._due:  # a stall still going on
            stalled += now - max(self._due, since)
        return stalled


SMOOTHING = 0.3  # weight of the newest tick: about the last 3-4 ticks count
LOOP_LAG = LoopLag()  # one per process; inert until a gateway call starts it


class GatewayMonitors:
    """All monitors of this process; the GatewayAvailability port."""

    def __init__(self, gateway_ids: list[str], policy: BreakerPolicy) -> None:
        self._policy = policy
        self._monitors = {gid: GatewayMonitor(gid, policy) for gid in gateway_ids}

    def get(self, gateway_id: str) -> GatewayMonitor:
        monitor = self._monitors.get(gateway_id)
        if monitor is None:
            monitor = self._monitors[gateway_id] = GatewayMonitor(gateway_id, self._policy)
        return monitor

    def ids(self) -> list[str]:
        return sorted(self._monitors)

    def is_available(self, gateway_id: str) -> bool:
        monitor = self._monitors.get(gateway_id)
        if monitor is None:
            return True
        return not monitor.breaker_blocks() and monitor.health != "unhealthy"

    def runtime(self, gateway_id: str) -> GatewayRuntime:
        return self.get(gateway_id).runtime()
