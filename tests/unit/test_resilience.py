"""Retries, breaker and the single half-open probe, around a scripted gateway."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from adapters.gateways.classify import TransportFailure
from adapters.gateways.json_http import JsonGatewayProvider
from adapters.gateways.monitor import BreakerPolicy, GatewayMonitor, GatewayMonitors, LoopLag
from adapters.gateways.resilience import LagProbe, ResilientProvider, RetryPolicy
from adapters.memory.gateways import ScriptedProvider
from application.ports import GatewayResult, PaymentInstruction
from domain.transaction import AttemptOutcome, TransactionType

FAST = RetryPolicy(attempts=3, budget_s=2.0, backoff_base_s=0.001, backoff_cap_s=0.002)
OK = GatewayResult(outcome=AttemptOutcome.ACCEPTED, reference_id="r")
TRANSIENT = GatewayResult(outcome=AttemptOutcome.TRANSIENT, error_code="internal_error")
NOT_SENT = GatewayResult(outcome=AttemptOutcome.NOT_SENT, error_code="connect_failed")
AMBIGUOUS = GatewayResult(outcome=AttemptOutcome.AMBIGUOUS, error_code="timeout")
DECLINED = GatewayResult(outcome=AttemptOutcome.DECLINED, error_code="refused")


def instruction(n: int = 1) -> PaymentInstruction:
    return PaymentInstruction(
        transaction_id="tx",
        reference=f"tx:{n}",
        type=TransactionType.DEPOSIT,
        user_id=1,
        amount="1.00",
        amount_minor=100,
        currency="USD",
    )


POOL_TIMEOUT = TransportFailure(
    outcome=AttemptOutcome.NOT_SENT, error_code="connect_failed", pool_exhausted=True
)
READ_TIMEOUT = TransportFailure(
    outcome=AttemptOutcome.AMBIGUOUS, error_code="timeout", timed_out=True
)


class FakeLag:
    """A LoopLag stand-in: the loop was stalled ``stalled`` seconds during any call."""

    def __init__(self, stalled: float = 0.0) -> None:
        self.stalled = stalled

    def ensure_running(self) -> None:
        pass

    def stalled_s(self, since: float) -> float:
        return self.stalled


def resilient(
    *script: GatewayResult,
    fail_max: int = 3,
    reset_s: float = 60.0,
    retry: RetryPolicy = FAST,
    lag: LagProbe | None = None,
) -> tuple[ResilientProvider, ScriptedProvider, GatewayMonitor]:
    inner = ScriptedProvider("paypal", *script)
    monitor = GatewayMonitor("paypal", BreakerPolicy(fail_max=fail_max, reset_timeout_s=reset_s))
    return ResilientProvider(inner, monitor, retry, lag=lag or FakeLag()), inner, monitor


async def test_transient_refusals_are_retried_with_the_same_reference() -> None:
    provider, inner, _ = resilient(TRANSIENT, TRANSIENT, OK, fail_max=10)
    result = await provider.submit(instruction())
    assert (result.outcome, result.tries) == (AttemptOutcome.ACCEPTED, 3)
    assert {i.reference for i in inner.received} == {"tx:1"}


async def test_retries_stop_at_the_attempt_limit_and_report_transient() -> None:
    provider, inner, _ = resilient(TRANSIENT, TRANSIENT, TRANSIENT, OK, fail_max=10)
    result = await provider.submit(instruction())
    assert (result.outcome, result.tries) == (AttemptOutcome.TRANSIENT, 3)
    assert len(inner.received) == 3


@pytest.mark.parametrize("script", [NOT_SENT, AMBIGUOUS, DECLINED, OK])
async def test_only_transient_outcomes_are_retried(script: GatewayResult) -> None:
    provider, inner, _ = resilient(script, OK, fail_max=10)
    result = await provider.submit(instruction())
    assert result.outcome is script.outcome
    assert len(inner.received) == 1


async def test_retries_respect_the_total_time_budget() -> None:
    slow = RetryPolicy(attempts=10, budget_s=0.05, backoff_base_s=0.04, backoff_cap_s=0.04)
    provider, inner, _ = resilient(*[TRANSIENT] * 10, fail_max=100, retry=slow)
    await provider.submit(instruction())
    assert len(inner.received) < 10


async def test_repeated_failures_open_the_breaker_and_calls_stop() -> None:
    provider, inner, monitor = resilient(NOT_SENT, NOT_SENT, NOT_SENT, fail_max=3)
    for n in range(3):
        await provider.submit(instruction(n))
    assert monitor.breaker_state == "open"
    result = await provider.submit(instruction(9))
    assert (result.outcome, result.error_code, result.tries) == (
        AttemptOutcome.NOT_SENT,
        "breaker_open",
        0,
    )
    assert len(inner.received) == 3


async def test_declines_do_not_count_against_the_breaker() -> None:
    provider, _, monitor = resilient(*[DECLINED] * 5, fail_max=2)
    for n in range(5):
        await provider.submit(instruction(n))
    assert monitor.breaker_state == "closed"


async def test_after_the_reset_timeout_one_probe_passes_and_success_closes() -> None:
    provider, _inner, monitor = resilient(NOT_SENT, NOT_SENT, fail_max=2, reset_s=0.05)
    await provider.submit(instruction(1))
    await provider.submit(instruction(2))
    assert monitor.breaker_state == "open"
    await asyncio.sleep(0.06)
    result = await provider.submit(instruction(3))
    assert result.outcome is AttemptOutcome.ACCEPTED
    assert monitor.breaker_state == "closed"


async def test_only_one_half_open_probe_at_a_time() -> None:
    gate = asyncio.Event()
    provider, inner, _monitor = resilient(NOT_SENT, NOT_SENT, fail_max=2, reset_s=0.05)
    await provider.submit(instruction(1))
    await provider.submit(instruction(2))
    await asyncio.sleep(0.06)

    original = inner.submit

    async def slow_submit(i: PaymentInstruction) -> GatewayResult:
        await gate.wait()
        return await original(i)

    inner.submit = slow_submit  # type: ignore[method-assign]
    probe = asyncio.create_task(provider.submit(instruction(3)))
    await asyncio.sleep(0.01)
    others = await asyncio.gather(*(provider.submit(instruction(n)) for n in range(4, 9)))
    assert {r.error_code for r in others} == {"breaker_open"}
    gate.set()
    assert (await probe).outcome is AttemptOutcome.ACCEPTED
    assert len(inner.received) == 3  # the two failures and the single probe


async def test_a_failed_probe_reopens_the_breaker() -> None:
    provider, _, monitor = resilient(NOT_SENT, NOT_SENT, NOT_SENT, fail_max=2, reset_s=0.05)
    await provider.submit(instruction(1))
    await provider.submit(instruction(2))
    await asyncio.sleep(0.06)
    await provider.submit(instruction(3))
    assert monitor.breaker_state == "open"


async def test_the_monitor_reports_success_rate_and_latency() -> None:
    provider, _, monitor = resilient(OK, NOT_SENT, OK, OK, fail_max=10)
    for n in range(4):
        await provider.submit(instruction(n))
    runtime = monitor.runtime()
    assert runtime.success_rate == 0.75
    assert runtime.recent_calls == 4
    assert runtime.latency_ms_p50 is not None


def test_availability_follows_breaker_and_health() -> None:
    monitors = GatewayMonitors(["paypal"], BreakerPolicy(fail_max=1, reset_timeout_s=60))
    assert monitors.is_available("paypal")
    monitors.get("paypal").set_health("unhealthy")
    assert not monitors.is_available("paypal")
    monitors.get("paypal").set_health("healthy")
    monitors.get("paypal").breaker.open()
    assert not monitors.is_available("paypal")
    assert monitors.is_available("unknown-gateway")


# -- our own saturation is never held against the gateway ----------------------
async def test_a_cancelled_call_leaves_the_breaker_closed_and_counts_nothing() -> None:
    provider, inner, monitor = resilient(fail_max=1)
    entered = asyncio.Event()

    async def hangs(_: PaymentInstruction) -> GatewayResult:
        entered.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    inner.submit = hangs  # type: ignore[method-assign]
    call = asyncio.create_task(provider.submit(instruction()))
    await entered.wait()
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert monitor.breaker_state == "closed"
    assert (monitor.breaker.fail_counter, monitor.calls, monitor.runtime().recent_calls) == (
        0,
        0,
        0,
    )


async def test_a_cancelled_probe_frees_the_probe_slot_without_reopening() -> None:
    provider, inner, monitor = resilient(NOT_SENT, fail_max=1, reset_s=0.05)
    await provider.submit(instruction(1))
    assert monitor.breaker_state == "open"
    await asyncio.sleep(0.06)
    original = inner.submit
    entered = asyncio.Event()

    async def hangs(_: PaymentInstruction) -> GatewayResult:
        entered.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    inner.submit = hangs  # type: ignore[method-assign]
    probe = asyncio.create_task(provider.submit(instruction(2)))
    await entered.wait()
    probe.cancel()
    with pytest.raises(asyncio.CancelledError):
        await probe
    assert not monitor.probe_in_flight
    inner.submit = original  # type: ignore[method-assign]
    result = await provider.submit(instruction(3))  # the next call is the probe
    assert result.outcome is AttemptOutcome.ACCEPTED
    assert monitor.breaker_state == "closed"


async def test_our_exhausted_connection_pool_does_not_count_against_the_gateway() -> None:
    provider, _, monitor = resilient(*[POOL_TIMEOUT] * 5, fail_max=2)
    for n in range(5):
        result = await provider.submit(instruction(n))
        assert (result.outcome, result.error_code) == (AttemptOutcome.NOT_SENT, "connect_failed")
        assert type(result) is GatewayResult  # adapter-only flags stay in the adapters
    assert monitor.breaker_state == "closed"
    assert (monitor.breaker.fail_counter, monitor.runtime().recent_calls) == (0, 0)


async def test_a_pool_timeout_raised_by_httpx_is_classified_not_sent_and_not_counted() -> None:
    def handler(_: httpx.Request) -> httpx.Response:
        raise httpx.PoolTimeout("no free connection")

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    monitor = GatewayMonitor("paypal", BreakerPolicy(fail_max=1, reset_timeout_s=60))
    provider = ResilientProvider(
        JsonGatewayProvider("paypal", "http://psp.test/paypal", client), monitor, FAST, FakeLag()
    )
    for n in range(3):
        assert (await provider.submit(instruction(n))).outcome is AttemptOutcome.NOT_SENT
    assert monitor.breaker_state == "closed"


async def test_a_timeout_while_our_loop_lagged_does_not_count_but_the_outcome_stays_ambiguous() -> (
    None
):
    provider, _, monitor = resilient(*[READ_TIMEOUT] * 4, fail_max=2, lag=FakeLag(stalled=5.0))
    for n in range(4):
        result = await provider.submit(instruction(n))
        assert (result.outcome, result.error_code) == (AttemptOutcome.AMBIGUOUS, "timeout")
    assert monitor.breaker_state == "closed"
    assert monitor.runtime().recent_calls == 0


async def test_a_timeout_with_a_responsive_loop_still_counts() -> None:
    provider, _, monitor = resilient(READ_TIMEOUT, READ_TIMEOUT, fail_max=2, lag=FakeLag(0.0))
    for n in range(2):
        await provider.submit(instruction(n))
    assert monitor.breaker_state == "open"
    assert monitor.runtime().success_rate == 0.0


async def test_lag_excuses_timeouts_only_not_answers_the_gateway_gave() -> None:
    provider, _, monitor = resilient(NOT_SENT, NOT_SENT, fail_max=2, lag=FakeLag(stalled=5.0))
    for n in range(2):
        await provider.submit(instruction(n))
    assert monitor.breaker_state == "open"


async def test_the_real_lag_probe_tells_a_stalled_loop_from_a_slow_gateway() -> None:
    lag = LoopLag(interval_s=0.01)
    stalled, inner, stalled_monitor = resilient(READ_TIMEOUT, fail_max=1, lag=lag)
    slow, slow_inner, slow_monitor = resilient(READ_TIMEOUT, fail_max=1, lag=lag)

    async def loop_blocked(i: PaymentInstruction) -> GatewayResult:
        await asyncio.sleep(0.05)
        time.sleep(0.2)  # noqa: ASYNC251 - the point: a loop too busy to read answers
        return READ_TIMEOUT

    async def gateway_slow(i: PaymentInstruction) -> GatewayResult:
        await asyncio.sleep(0.4)  # the loop keeps running; the gateway is just late
        return READ_TIMEOUT

    inner.submit = loop_blocked  # type: ignore[method-assign]
    slow_inner.submit = gateway_slow  # type: ignore[method-assign]
    await stalled.submit(instruction(1))
    await slow.submit(instruction(2))
    assert stalled_monitor.breaker_state == "closed"
    assert slow_monitor.breaker_state == "open"
