"""Retries and a circuit breaker around any gateway adapter.

- Retries happen only on ``transient`` outcomes (refused before acceptance),
  always with the same idempotency reference, so a retry cannot pay twice.
  Backoff is "full jitter" (uniform between 0 and the exponential cap),
  with at most ``attempts`` tries inside a total time budget (stamina).
- Every real call is counted by the gateway's breaker (aiobreaker), unless
  the failure was our own doing (last point); declines
  count as successes (the gateway works, the customer was refused). While the
  breaker is open the call is refused locally as ``not_sent``, and when it is
  due for a trial only one coroutine gets to probe.
- Status inquiries bypass both: they are read-only, so asking a gateway whose
  breaker is open cannot hurt, and the reconciler retries on its own schedule.
- Our own saturation is never the gateway's fault. The breaker (and the
  health stats) are told about a call only after it ends, and only when the
  gateway is to blame: not when the request was cancelled (the client went
  away; CancelledError passes through untouched), not when our own connection
  pool had no free connection (httpx.PoolTimeout), and not when a timeout
  fired while this process's event loop was stalled for a good part of the
  call. The outcome class handed back is unchanged (a read timeout stays
  ``ambiguous`` for the money); only the breaker accounting differs.
"""

from __future__ import annotations

import contextlib
import random
import time
from dataclasses import dataclass, fields, replace
from typing import Literal, Protocol

import stamina
from aiobreaker import CircuitBreakerError

from adapters.gateways.classify import TransportFailure
from adapters.gateways.monitor import LOOP_LAG, GatewayMonitor
from adapters.observability import GATEWAY_CALL_SECONDS, GATEWAY_CALLS, GATEWAY_FAILURES_EXCUSED
from application.ports import GatewayResult, GatewayStatus, PaymentInstruction, PaymentProvider
from domain.transaction import AttemptOutcome

_FAILURES = frozenset({AttemptOutcome.NOT_SENT, AttemptOutcome.TRANSIENT, AttemptOutcome.AMBIGUOUS})
BREAKER_OPEN = GatewayResult(
    outcome=AttemptOutcome.NOT_SENT, error_code="breaker_open", message="Circuit breaker open"
)
# A timeout during which our event loop ran late for at least this share of
# the call's time says more about us than about the gateway. Healthy, the
# loop runs late ~2 % of the time; saturated, most of it.
LAG_EXCUSE_FRACTION = 0.25
Excuse = Literal["pool_exhausted", "loop_lag"]
_RESULT_FIELDS = tuple(f.name for f in fields(GatewayResult))


class LagProbe(Protocol):
    """How long this process's event loop ran late (monitor.LoopLag; fakes in tests)."""

    def ensure_running(self) -> None: ...

    def stalled_s(self, since: float) -> float: ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 3
    budget_s: float = 5.0  # total time for all tries of one attempt
    backoff_base_s: float = 0.1
    backoff_cap_s: float = 1.0


class _Failed(Exception):
    """Carries a failing result through the breaker, which counts exceptions."""

    def __init__(self, result: GatewayResult) -> None:
        super().__init__(result.error_code)
        self.result = result


class _Transient(Exception):
    def __init__(self, result: GatewayResult) -> None:
        super().__init__(result.error_code)
        self.result = result


class ResilientProvider:
    """Wraps one gateway adapter; same port, so the dispatcher cannot tell."""

    def __init__(
        self,
        inner: PaymentProvider,
        monitor: GatewayMonitor,
        retry: RetryPolicy,
        lag: LagProbe = LOOP_LAG,
    ) -> None:
        self.gateway_id = inner.gateway_id
        self._inner = inner
        self._monitor = monitor
        self._retry = retry
        self._lag = lag

    async def submit(self, instruction: PaymentInstruction) -> GatewayResult:
        tries = 0
        result = BREAKER_OPEN
        backoff = _FullJitter(self._retry)
        try:
            async for attempt in stamina.retry_context(
                on=backoff.hook,
                attempts=self._retry.attempts,
                timeout=self._retry.budget_s,
            ):
                with attempt:
                    result = await self._try_once(instruction)
                    if result is not BREAKER_OPEN:
                        tries += 1
                    if result.outcome is AttemptOutcome.TRANSIENT:
                        raise _Transient(result)
        except _Transient as exc:
            result = exc.result  # retries exhausted: report the last refusal
        return replace(result, tries=tries)

    async def inquire(self, reference: str, gateway_reference: str | None = None) -> GatewayStatus:
        """Plain delegation: no retries, no breaker accounting, asked even when open.

        Counting inquiries would let the reconciler's reads trip (or heal) the
        breaker that guards payments, which is not what it measures.
        """
        return await self._inner.inquire(reference, gateway_reference)

    async def _try_once(self, instruction: PaymentInstruction) -> GatewayResult:
        monitor = self._monitor
        trial = monitor.breaker_state != "closed"
        if trial:
            if monitor.probe_in_flight or monitor.breaker_blocks():
                return BREAKER_OPEN
            monitor.probe_in_flight = True
        self._lag.ensure_running()
        since = time.monotonic()
        try:
            # Outside the breaker: a CancelledError (the client went away) leaves
            # here untouched, having recorded nothing, and is re-raised as is.
            result = await self._inner.submit(instruction)
            elapsed = time.monotonic() - since
            excuse = self._excuse(result, since, elapsed)
            if excuse is None:
                await self._tell_breaker(result)
                monitor.record_call(result.outcome not in _FAILURES, round(elapsed * 1000))
            else:
                GATEWAY_FAILURES_EXCUSED.labels(self.gateway_id, excuse).inc()
        finally:
            if trial:
                monitor.probe_in_flight = False
        GATEWAY_CALLS.labels(self.gateway_id, result.outcome.value).inc()
        GATEWAY_CALL_SECONDS.labels(self.gateway_id).observe(elapsed)
        return _plain(result)

    def _excuse(self, result: GatewayResult, since: float, elapsed: float) -> Excuse | None:
        """Why this failure is ours rather than the gateway's, if it is."""
        if not isinstance(result, TransportFailure):
            return None
        if result.pool_exhausted:
            return "pool_exhausted"
        if result.timed_out and self._lag.stalled_s(since) >= LAG_EXCUSE_FRACTION * elapsed:
            return "loop_lag"
        return None

    async def _tell_breaker(self, result: GatewayResult) -> None:
        """Feed a finished call's outcome through the breaker (it counts exceptions).

        While open, a trial call found the breaker due (checked above), so
        aiobreaker moves it to half-open and this outcome closes or reopens
        it. A refusal without our _Failed as its cause means another call
        opened the breaker meanwhile: this call's result stands regardless.
        """
        with contextlib.suppress(_Failed, CircuitBreakerError):
            await self._monitor.breaker.call_async(_replay, result)


async def _replay(result: GatewayResult) -> GatewayResult:
    if result.outcome in _FAILURES:
        raise _Failed(result)
    return result


def _plain(result: GatewayResult) -> GatewayResult:
    """The port's own type: adapter-only details stay inside the adapters."""
    if type(result) is GatewayResult:
        return result
    return GatewayResult(**{name: getattr(result, name) for name in _RESULT_FIELDS})


class _FullJitter:
    """stamina backoff hook: retry transients only, sleeping U(0, min(cap, base*2^n))."""

    def __init__(self, policy: RetryPolicy) -> None:
        self._policy = policy
        self._retries = 0

    def hook(self, exc: Exception) -> bool | float:
        if not isinstance(exc, _Transient):
            return False
        cap = min(self._policy.backoff_cap_s, self._policy.backoff_base_s * 2**self._retries)
        self._retries += 1
        return random.uniform(0, cap)
