"""Recent outcomes per gateway and country, and what success_rate does with them.

A snapshot is counted over a sliding window of the latest attempts
(outcome class and latency). The ordering rule is pure: given the snapshot
and the transaction id (for the exploration and probe draws), it always
answers the same.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class GatewayStats:
    """One gateway's recent window in one country."""

    attempts: int
    successes: int  # accepted by the gateway
    latency_ms_p50: float | None = None

    @property
    def rate(self) -> float | None:
        return self.successes / self.attempts if self.attempts else None


NO_STATS = GatewayStats(0, 0)


@dataclass(frozen=True, slots=True)
class SuccessRatePolicy:
    """The knobs of ``success_rate`` (settings can change them)."""

    window: int = 200  # attempts kept per gateway and country
    min_sample: int = 20  # below this a gateway is unmeasured: it is tried as if perfect
    exploration: float = 0.05  # share of payments that try a random other gateway first
    eliminate_below: float = 0.5  # a measured rate below this leaves the tier...
    probe_share: float = 0.02  # ...but this share of payments still probes it first
    latency_weight: float = 0.05  # success-rate points one second of p50 latency costs

    def score(self, stats: GatewayStats) -> float:
        """Higher is better: the success rate less a small latency cost."""
        rate = stats.rate
        if rate is None or stats.attempts < self.min_sample:
            return 1.0
        latency_s = (stats.latency_ms_p50 or 0.0) / 1000
        return rate - self.latency_weight * latency_s

    def eliminated(self, stats: GatewayStats) -> bool:
        rate = stats.rate
        return (
            rate is not None and stats.attempts >= self.min_sample and rate < self.eliminate_below
        )


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion (95 % with z = 1.96)."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)
