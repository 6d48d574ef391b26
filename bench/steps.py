"""One load step as numbers: its latency distributions, throughput and costs.

:func:`summarize` turns a :class:`~bench.loadspec.LoadResult` into a
:class:`Step`; the harness then fills in what the step cost (CPU, memory,
commits) and :func:`judge` decides whether a sweep step passed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.loadspec import LoadResult

OVERHEAD_P99_LIMIT_MS = 50.0  # the sweep's pass criterion (with no errors)


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100) of finite values; NaN when empty."""
    data = sorted(v for v in values if not math.isnan(v))
    if not data:
        return math.nan
    if len(data) == 1:
        return data[0]
    pos = (len(data) - 1) * q / 100
    low = math.floor(pos)
    high = min(low + 1, len(data) - 1)
    return data[low] + (data[high] - data[low]) * (pos - low)


@dataclass
class Distribution:
    p50: float
    p90: float
    p99: float
    max: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Distribution:
        finite = [v for v in values if not math.isnan(v)]
        return cls(
            percentile(finite, 50),
            percentile(finite, 90),
            percentile(finite, 99),
            max(finite) if finite else math.nan,
        )


@dataclass
class Step:
    """One load step: what was offered, what came back, what it cost."""

    kind: str  # deposit | health | health-max | callback | warmup | profile
    offered_rps: float
    duration_s: float
    sent: int
    ok: int
    errors: int
    error_rate: float
    achieved_rps: float
    latency: Distribution
    overhead: Distribution  # client latency - gateway time (Server-Timing)
    app: Distribution  # the service's own "app" Server-Timing (server side)
    gateway_p50_ms: float
    lag_p99_ms: float  # how late the generator sent (its own saturation)
    connections: int
    error_kinds: dict[str, int] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)
    # filled by the harness from psutil and PostgreSQL
    service_cpu_s: float = math.nan
    cpu_s_per_1000: float = math.nan
    rss_peak_mb: float = math.nan
    pss_peak_mb: float = math.nan
    sandbox_cpu_s: float = math.nan
    pg_cpu_s: float = math.nan
    loadgen_cpu_s: float = math.nan
    machine_cpu_pct: float = math.nan
    background_cpu_pct: float = math.nan  # busy before the step: other work on the box
    pg_commits: int = 0
    commits_per_request: float = math.nan
    # callbacks applied end to end (deposit steps)
    completed: int = 0
    applied_rps: float = math.nan
    completion_p50_ms: float = math.nan
    completion_p99_ms: float = math.nan
    unsettled: int = 0
    invariants: str = ""  # `payments check` after the step settled: ok | broken (...)
    passed: bool | None = None
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return dict(clean_json(asdict(self)))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Step:
        """A step back from :meth:`to_json` (None numbers become NaN again)."""
        values = dict(data)
        for name in ("latency", "overhead", "app"):
            values[name] = Distribution(
                **{k: math.nan if v is None else v for k, v in values[name].items()}
            )
        for name, value in values.items():
            if value is None and name != "passed":
                values[name] = math.nan
        return cls(**values)


def summarize(result: LoadResult, kind: str) -> Step:
    ok_idx = [i for i, s in enumerate(result.status) if 200 <= s < 300]
    latencies = [result.latency_ms[i] for i in ok_idx]
    overheads = [
        result.latency_ms[i] - result.gateway_ms[i]
        for i in ok_idx
        if not math.isnan(result.gateway_ms[i])
    ]
    app = [result.app_ms[i] for i in ok_idx]
    gateway = [result.gateway_ms[i] for i in ok_idx]
    finished = [result.finished[i] for i in ok_idx if not math.isnan(result.finished[i])]
    # Throughput over the time it took: from the first scheduled request to
    # the last answer, and never less than the step's duration (open model).
    last = max(finished, default=0.0)
    span = last if result.closed else max(last, result.duration_s)
    errors = result.sent - len(ok_idx)
    return Step(
        kind=kind,
        offered_rps=result.rate if not result.closed else math.nan,
        duration_s=result.duration_s,
        sent=result.sent,
        ok=len(ok_idx),
        errors=errors,
        error_rate=errors / result.sent if result.sent else 0.0,
        achieved_rps=len(ok_idx) / span if span > 0 else 0.0,
        latency=Distribution.of(latencies),
        overhead=Distribution.of(overheads) if overheads else Distribution.of(latencies),
        app=Distribution.of(app),
        gateway_p50_ms=percentile(gateway, 50),
        lag_p99_ms=percentile(result.lag_ms, 99),
        connections=result.connections_opened,
        error_kinds=dict(result.errors),
        error_samples=list(result.error_samples),
    )


def judge(step: Step, limit_ms: float = OVERHEAD_P99_LIMIT_MS) -> bool:
    """The sweep's criterion: no errors, p99 overhead within the limit, rate kept."""
    return (
        step.errors == 0
        and step.overhead.p99 <= limit_ms
        and step.achieved_rps >= 0.95 * step.offered_rps
    )


def clean_json(value: Any) -> Any:
    """Floats rounded, NaN and infinities as null: what the JSON files hold."""
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else round(value, 3)
    if isinstance(value, dict):
        return {k: clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(v) for v in value]
    return value
