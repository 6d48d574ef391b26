"""What a draft routing would have done with recorded traffic, and how sure we are.

Each recorded transaction is routed again through the draft (the same
sticky draws as live). One whose first gateway stays keeps its recorded
outcome and latency; one that moves is given the draft gateway's recorded
acceptance rate and mean latency in that country and period. The rate's
interval combines each gateway's Wilson interval (95 %) linearly, which is
conservative; the prediction interval adds the binomial spread of a fresh
run of as many transactions.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

from domain.routing_stats import wilson_interval

Z95 = 1.96

METHOD = (
    "Each recorded transaction is routed again through the draft with the live path's sticky "
    "draws. Unchanged transactions keep their recorded outcome and first-attempt latency; a "
    "transaction that changes gateway is given the draft gateway's acceptance rate and mean "
    "latency over the attempts recorded at it in the same country and period (fallbacks after "
    "the first gateway are not simulated). success_rate low/high: the gateways' 95 % Wilson "
    "intervals combined linearly by the moved volume (conservative); prediction_low/high: that "
    "interval widened by the binomial spread of a fresh run of the same number of transactions. "
    "latency low/high: 95 % normal interval from the gateways' latency standard errors. A "
    "gateway with no recorded attempts counts as unknown: rate in [0, 1]."
)


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
        self.kept_successes += succeeded
        if latency_ms is not None:
            self.kept_latency_ms += latency_ms
            self.kept_latency_n += 1


@dataclass(slots=True)
class Projection:
    """Sums behind the estimates, so countries add up into the total exactly."""

    n: float = 0.0
    success: float = 0.0
    success_low: float = 0.0
    success_high: float = 0.0
    latency_sum: float = 0.0
    latency_n: float = 0.0
    latency_var: float = 0.0

    def plus(self, other: Projection) -> Projection:
        return Projection(*(a + b for a, b in zip(self.sums(), other.sums(), strict=True)))

    def sums(self) -> tuple[float, ...]:
        return (
            self.n,
            self.success,
            self.success_low,
            self.success_high,
            self.latency_sum,
            self.latency_n,
            self.latency_var,
        )

    def success_rate(self) -> dict[str, float | None]:
        if not self.n:
            return {
                k: None for k in ("estimate", "low", "high", "prediction_low", "prediction_high")
            }
        p = self.success / self.n
        low, high = self.success_low / self.n, self.success_high / self.n
        spread = max(p - low, high - p)
        half = math.sqrt(spread**2 + Z95**2 * p * (1 - p) / self.n)
        return {
            "estimate": p,
            "low": low,
            "high": high,
            "prediction_low": max(0.0, p - half),
            "prediction_high": min(1.0, p + half),
        }

    def latency_ms(self) -> dict[str, float | None]:
        if not self.latency_n:
            return {"estimate": None, "low": None, "high": None}
        mean = self.latency_sum / self.latency_n
        half = Z95 * math.sqrt(self.latency_var) / self.latency_n
        return {"estimate": mean, "low": max(0.0, mean - half), "high": mean + half}


def project(tally: Tally, samples: dict[str, GatewaySample]) -> Projection:
    """The draft's expected outcomes for one country's tally."""
    out = Projection(
        n=tally.transactions,
        success=tally.kept_successes,
        success_low=tally.kept_successes,
        success_high=tally.kept_successes,
        latency_sum=tally.kept_latency_ms,
        latency_n=tally.kept_latency_n,
    )
    for gateway_id, moved in tally.moved_to.items():
        sample = samples.get(gateway_id, GatewaySample(0, 0))
        low, high = wilson_interval(sample.successes, sample.attempts)
        rate = sample.successes / sample.attempts if sample.attempts else (low + high) / 2
        out.success += moved * rate
        out.success_low += moved * low
        out.success_high += moved * high
        if sample.latency_mean is not None:
            out.latency_sum += moved * sample.latency_mean
            out.latency_n += moved
            se = (sample.latency_sd or 0.0) / math.sqrt(sample.attempts)
            out.latency_var += (moved * se) ** 2
    return out
