"""Retries and a circuit breaker around any gateway adapter.

- Retries happen only on ``transient`` outcomes (refused before acceptance),
  always with the same idempotency reference, so a retry cannot pay twice.
  Backoff is "full jitter" (uniform between 0 and the exponential cap),
  with at most ``attempts`` tries inside a total time budget (stamina).
- Every real call is counted by the gateway's breaker (aiobreaker); declines
  count as successes (the gateway works, the customer was refused). While the
  breaker is open the call is refused locally as ``not_sent``, and when it is
  due for a trial only one coroutine gets to probe.
- Status inquiries bypass both: they are read-only, so asking a gateway whose
  breaker is open cannot hurt, and the reconciler retries on its own schedule.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, replace

import stamina
from aiobreaker import CircuitBreakerError

from adapters.gateways.monitor import GatewayMonitor
from adapters.observability import GATEWAY_CALL_SECONDS, GATEWAY_CALLS
from application.ports import GatewayResult, GatewayStatus, PaymentInstruction, PaymentProvider
from domain.transaction import AttemptOutcome

_FAILURES = frozenset({AttemptOutcome.NOT_SENT, AttemptOutcome.TRANSIENT, AttemptOutcome.AMBIGUOUS})
BREAKER_OPEN = GatewayResult(
    outcome=AttemptOutcome.NOT_SENT, error_code="breaker_open", message="Circuit breaker open"
)


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

    def __init__(self, inner: PaymentProvider, monitor: GatewayMonitor, retry: RetryPolicy) -> None:
        self.gateway_id = inner.gateway_id
        self._inner = inner
        self._monitor = monitor
        self._retry = retry

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

    async def inquire(self, reference: str) -> GatewayStatus:
        """Plain delegation: no retries, no breaker accounting, asked even when open.

        Counting inquiries would let the reconciler's reads trip (or heal) the
        breaker that guards payments, which is not what it measures.
        """
        return await self._inner.inquire(reference)

    async def _try_once(self, instruction: PaymentInstruction) -> GatewayResult:
        monitor = self._monitor
        trial = monitor.breaker_state != "closed"
        if trial:
            if monitor.probe_in_flight or monitor.breaker_blocks():
                return BREAKER_OPEN
            monitor.probe_in_flight = True
        started = time.perf_counter()
        try:
            result: GatewayResult = await monitor.breaker.call_async(self._call, instruction)
        except _Failed as exc:
            result = exc.result
        except CircuitBreakerError as exc:
            # Raised both when refusing a call and when this call's failure
            # tripped the breaker; in the latter case the call did happen.
            if not isinstance(exc.__cause__, _Failed):
                return BREAKER_OPEN
            result = exc.__cause__.result
        finally:
            if trial:
                monitor.probe_in_flight = False
        elapsed = time.perf_counter() - started
        monitor.record_call(result.outcome not in _FAILURES, round(elapsed * 1000))
        GATEWAY_CALLS.labels(self.gateway_id, result.outcome.value).inc()
        GATEWAY_CALL_SECONDS.labels(self.gateway_id).observe(elapsed)
        return result

    async def _call(self, instruction: PaymentInstruction) -> GatewayResult:
        result = await self._inner.submit(instruction)
        if result.outcome in _FAILURES:
            raise _Failed(result)
        return result


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
