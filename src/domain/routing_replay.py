"""What a draft routing would have done with recorded traffic, and how sure we are.

Each recorded transaction is routed again through the draft (the same
sticky draws as live). One whose first gateway stays keeps its recorded
outcome and latency; one that moves is given the draft gateway's recorded
acceptance rate and mean latency in that country and period. The spread
counts both the recorded outcomes (one draw each of a Bernoulli) and the
draft gateways' estimated rates (Wilson: no zero spread at 0 % or 100 %);
the prediction interval adds a fresh run of as many transactions.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from statistics import NormalDist

from domain.routing_stats import wilson_interval

METHOD = (
    "Each recorded transaction is routed again through the draft with the live path's sticky "
    "draws. Unchanged transactions keep their recorded outcome and first-attempt latency; a "
    "transaction that changes gateway is given the draft gateway's acceptance rate and mean "
    "latency over the attempts recorded at it in the same country and period (fallbacks after "
    "the first gateway are not simulated). success_rate low/high: normal interval at the asked "
    "confidence whose variance adds the recorded outcomes' Bernoulli spread (at their gateway's "
    "rate) and, per moved transaction, the uncertainty of the draft gateway's rate (from its "
    "Wilson interval, so a gateway at 0 % or 100 % still has a spread); prediction_low/high: "
    "that variance plus the binomial spread of a fresh run of the same number of transactions, "
    "i.e. where the rate measured after applying the draft should fall. latency low/high: "
    "normal interval from the gateways' latency standard errors. A gateway with no recorded "
    "attempts counts as unknown: rate 0.5 within [0, 1]."
)


def z_for(confidence: float) -> float:
    """The two-sided normal quantile: 1.96 for 0.95."""
    return NormalDist().inv_cdf((1 + confidence) / 2)


@dataclass(frozen=True, slots=True)
class GatewaySample:
    """Recorded attempts at one gateway in one country during the period."""

    attempts: int
    successes: int
    latency_mean: float | None = None
    latency_sd: float | None = None


@dataclass(slots=True)
class Tally:
    """One country's (or the total's) replayed transactions."""

    transactions: int = 0
    changed: int = 0
    now: Counter[str] = field(default_factory=Counter)
    draft: Counter[str] = field(default_factory=Counter)
    moved_to: Counter[str] = field(default_factory=Counter)
    kept_at: Counter[str] = field(default_factory=Counter)
    recorded_successes: int = 0
    kept_successes: int = 0
    kept_latency_ms: float = 0.0
    kept_latency_n: int = 0

    def add(self, now: str, draft: str, succeeded: bool, latency_ms: int | None) -> None:
        self.transactions += 1
        self.now[now] += 1
        self.draft[draft] += 1
        self.recorded_successes += succeeded
        if now != draft:
            self.changed += 1
            self.moved_to[draft] += 1
            return
        self.kept_at[now] += 1
        self.kept_successes += succeeded
        if latency_ms is not None:
            self.kept_latency_ms += latency_ms
            self.kept_latency_n += 1


@dataclass(slots=True)
class Projection:
    """Sums behind the estimates, so countries add up into the total exactly."""

    n: float = 0.0
    success: float = 0.0
    success_var: float = 0.0  # variance of the expected success count
    latency_sum: float = 0.0
    latency_n: float = 0.0
    latency_var: float = 0.0

    def plus(self, other: Projection) -> Projection:
        return Projection(*(a + b for a, b in zip(self.sums(), other.sums(), strict=True)))

    def sums(self) -> tuple[float, ...]:
        return (
            self.n,
            self.success,
            self.success_var,
            self.latency_sum,
            self.latency_n,
            self.latency_var,
        )

    def success_rate(self, confidence: float = 0.95) -> dict[str, float | None]:
        if not self.n:
            keys = ("estimate", "low", "high", "prediction_low", "prediction_high")
            return dict.fromkeys(keys)
        z = z_for(confidence)
        p = self.success / self.n
        half = z * math.sqrt(self.success_var) / self.n
        fresh = p * (1 - p) / self.n
        half_pred = z * math.sqrt(self.success_var / self.n**2 + fresh)
        return {
            "estimate": p,
            "low": max(0.0, p - half),
            "high": min(1.0, p + half),
            "prediction_low": max(0.0, p - half_pred),
            "prediction_high": min(1.0, p + half_pred),
        }

    def latency_ms(self, confidence: float = 0.95) -> dict[str, float | None]:
        if not self.latency_n:
            return {"estimate": None, "low": None, "high": None}
        mean = self.latency_sum / self.latency_n
        half = z_for(confidence) * math.sqrt(self.latency_var) / self.latency_n
        return {"estimate": mean, "low": max(0.0, mean - half), "high": mean + half}


def _rate_and_se(sample: GatewaySample) -> tuple[float, float]:
    """A gateway's rate and its standard error, read off the 95 % Wilson interval."""
    low, high = wilson_interval(sample.successes, sample.attempts)
    rate = sample.successes / sample.attempts if sample.attempts else 0.5
    return rate, (high - low) / (2 * z_for(0.95))


def project(tally: Tally, samples: dict[str, GatewaySample]) -> Projection:
    """The draft's expected outcomes for one country's tally."""
    out = Projection(
        n=tally.transactions,
        success=tally.kept_successes,
        latency_sum=tally.kept_latency_ms,
        latency_n=tally.kept_latency_n,
    )
    for gateway_id, kept in tally.kept_at.items():
        # Each kept outcome is one Bernoulli draw at its gateway's rate.
        rate, se = _rate_and_se(samples.get(gateway_id, GatewaySample(0, 0)))
        out.success_var += kept * max(rate * (1 - rate), se * se)
    for gateway_id, moved in tally.moved_to.items():
        sample = samples.get(gateway_id, GatewaySample(0, 0))
        rate, se = _rate_and_se(sample)
        out.success += moved * rate
        out.success_var += (moved * se) ** 2
        if sample.latency_mean is not None and sample.attempts:
            out.latency_sum += moved * sample.latency_mean
            out.latency_n += moved
            latency_se = (sample.latency_sd or 0.0) / math.sqrt(sample.attempts)
            out.latency_var += (moved * latency_se) ** 2
    return out
