"""Statistics of a load step, the markdown report, the JSON file and the plot."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.loadgen import LoadResult

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
        return _clean(asdict(self))

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


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else round(value, 3)
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _f(value: float | None, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.{digits}f}"


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def step_table(steps: Sequence[Step]) -> str:
    """Throughput and latency per step (ms; overhead = latency - gateway time)."""
    head = [
        "step",
        "offered/s",
        "achieved/s",
        "errors",
        "p50",
        "p90",
        "p99",
        "max",
        "overhead p50",
        "p90",
        "p99",
        "max",
        "app p50 (server)",
        "gateway p50",
        "pass",
    ]
    rows = [_row(head), _row(["---"] * len(head))]
    for s in steps:
        rows.append(
            _row(
                [
                    s.kind,
                    _f(s.offered_rps, 0),
                    _f(s.achieved_rps, 0),
                    f"{s.errors} ({s.error_rate:.1%})" if s.errors else "0",
                    _f(s.latency.p50),
                    _f(s.latency.p90),
                    _f(s.latency.p99),
                    _f(s.latency.max),
                    _f(s.overhead.p50),
                    _f(s.overhead.p90),
                    _f(s.overhead.p99),
                    _f(s.overhead.max),
                    _f(s.app.p50),
                    _f(s.gateway_p50_ms),
                    {True: "yes", False: "no", None: ""}[s.passed],
                ]
            )
        )
    return "\n".join(rows)


def cost_table(steps: Sequence[Step]) -> str:
    """What each step cost the machine: CPU seconds per 1,000 requests by process tree."""
    head = [
        "step",
        "offered/s",
        "service CPU s/1k",
        "PostgreSQL s/1k",
        "sandbox s/1k",
        "loadgen s/1k",
        "machine CPU % (idle before)",
        "service RSS (PSS) peak MB",
        "commits/req",
        "callbacks applied/s",
        "completion p50/p99 ms",
        "loadgen lag p99 ms",
        "payments check",
    ]
    rows = [_row(head), _row(["---"] * len(head))]
    for s in steps:
        per = 1000 / s.ok if s.ok else math.nan
        completion = (
            f"{_f(s.completion_p50_ms, 0)} / {_f(s.completion_p99_ms, 0)}" if s.completed else "-"
        )
        rows.append(
            _row(
                [
                    s.kind,
                    _f(s.offered_rps, 0),
                    _f(s.cpu_s_per_1000, 2),
                    _f(s.pg_cpu_s * per, 2),
                    _f(s.sandbox_cpu_s * per, 2),
                    _f(s.loadgen_cpu_s * per, 2),
                    f"{_f(s.machine_cpu_pct, 0)} ({_f(s.background_cpu_pct, 0)})",
                    f"{_f(s.rss_peak_mb, 0)} ({_f(s.pss_peak_mb, 0)})",
                    _f(s.commits_per_request, 1),
                    _f(s.applied_rps, 0),
                    completion,
                    _f(s.lag_p99_ms, 1),
                    s.invariants or "-",
                ]
            )
        )
    return "\n".join(rows)


def markdown(run: dict[str, Any], steps: Sequence[Step]) -> str:
    meta = run["meta"]
    lines = [
        f"# Benchmark {meta['timestamp']}",
        "",
        f"{meta['server']} x {meta['workers']} worker(s), gateway latency "
        f"{meta['gateway_latency_ms']} ms, callback delay {meta['callback_delay_ms']} ms, "
        f"{meta['duration_s']} s per step, Kafka {'on' if meta['kafka'] else 'off'}, "
        f"{meta['users']} users; {meta['database']}; {meta['cpus']} CPUs; "
        f"service `{meta.get('service_command', '')}`; "
        f"commit {meta.get('commit', '?')}.",
        "",
        "Latency is measured by the client from each request's scheduled send time (open "
        "model); overhead = latency - the gateway time the service reports in "
        "`Server-Timing`. CPU is the service's process tree per 1,000 requests, including "
        "the callbacks and relay work the deposits cause; RSS is the peak of the tree's sum. "
        f"A step passes with no errors, p99 overhead ≤ {OVERHEAD_P99_LIMIT_MS:.0f} ms and "
        "≥ 95 % of the offered rate achieved.",
        "",
        step_table(steps),
        "",
        cost_table(steps),
        "",
        "## Ceilings and ratios",
        "",
    ]
    lines += [f"- {line}" for line in run.get("ratio_lines", [])]
    callbacks = run.get("callbacks")
    if callbacks:
        lines += [
            "",
            "## Callbacks",
            "",
            f"- {callbacks['posted']} signed callbacks POSTed at {callbacks['offered_rps']:.0f}/s: "
            f"accepted {callbacks['accepted_rps']:.0f}/s "
            f"(p99 {callbacks['accept_p99_ms']:.1f} ms), "
            f"applied {callbacks['applied_rps']:.0f}/s "
            f"({callbacks['applied']} applied in {callbacks['apply_span_s']:.1f} s).",
        ]
    profile = run.get("profile")
    if profile:
        lines += [
            "",
            f"## Profile ({profile['samples']} Python samples, {profile.get('where', '')})",
            "",
            f"py-spy at 100 Hz on every worker; shares are of the samples with Python code "
            f"running. {profile.get('native_samples', 0)} more samples had no Python frame "
            "above the event loop (the loop's C code, granian's Rust threads): py-spy cannot "
            "tell their waiting from their work, so they are left out. Raw stacks: "
            f"`{profile.get('raw_path', '')}` (speedscope or flamegraph.pl read them).",
            "",
            "| package (stdlib time to its caller) | share |",
            "|---|---|",
        ]
        total = max(1, profile["samples"])
        lines += [f"| {name} | {count / total:.1%} |" for name, count in profile["packages"][:12]]
        lines += ["", "| top self | share |", "|---|---|"]
        lines += [f"| `{name}` | {count / total:.1%} |" for name, count in profile["self_top"][:15]]
    sweep = run.get("sweep")
    if sweep:
        lines += [
            "",
            f"**Highest rate holding p99 overhead ≤ {OVERHEAD_P99_LIMIT_MS:.0f} ms with no "
            f"errors: {_rate(sweep['max_passing_rps'])} deposits/s** "
            f"(first failing: {_rate(sweep['first_failing_rps'])}).",
        ]
    return "\n".join(lines) + "\n"


def _rate(value: float | None) -> str:
    return "none" if not value else f"{value:g}"


def write_json(path: Path, run: dict[str, Any]) -> None:
    path.write_text(json.dumps(_clean(run), indent=1))


def plot(path: Path, steps: Sequence[Step], title: str) -> bool:
    """Latency and overhead against achieved throughput; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8), constrained_layout=True)
    colors = {"p50": "tab:blue", "p99": "tab:orange"}
    for kind, style in (("deposit", "o-"), ("health", "s--")):
        chosen = sorted((s for s in steps if s.kind == kind), key=lambda s: s.offered_rps)
        # Steps with errors are overloaded: their points are marked, not joined
        # (their achieved rate falls back below the offered one).
        clean = [s for s in chosen if not s.errors]
        failed = [s for s in chosen if s.errors]
        x = [s.achieved_rps for s in clean]
        for attr in ("p50", "p99"):
            color = colors[attr] if kind == "deposit" else ("tab:green", "tab:red")[attr == "p99"]
            left.plot(
                x,
                [getattr(s.latency, attr) for s in clean],
                style,
                color=color,
                label=f"{kind} {attr}",
            )
            if kind == "deposit":
                right.plot(
                    x,
                    [getattr(s.overhead, attr) for s in clean],
                    style,
                    color=color,
                    label=f"deposit overhead {attr}",
                )
                left.plot(
                    [s.achieved_rps for s in failed],
                    [getattr(s.latency, attr) for s in failed],
                    "x",
                    color=color,
                    ms=9,
                )
        if kind == "health":
            right.plot(
                x, [s.latency.p99 for s in clean], style, color="tab:red", label="GET /health p99"
            )
        for s in failed:
            left.annotate(
                f"offered {s.offered_rps:g}/s: {s.error_rate:.0%} errors",
                (s.achieved_rps, s.latency.p99),
                fontsize=7,
                color="red",
            )
    right.axhline(OVERHEAD_P99_LIMIT_MS, color="red", lw=0.8, ls=":", label="sweep limit 50 ms")
    right.axhline(20, color="orange", lw=0.8, ls=":", label="target p99 20 ms @500/s")
    for ax, name in ((left, "client latency (ms)"), (right, "overhead = latency - gateway (ms)")):
        ax.set_xlabel("achieved requests/s")
        ax.set_ylabel(name)
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
