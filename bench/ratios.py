"""What the run's numbers mean: deposits against the machine's ceilings and the targets."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

from bench.ceilings import PgbenchResult
from bench.steps import Step


def ratios(
    steps: Sequence[Step],
    health_connections: int,
    pgb: PgbenchResult | None,
    health_max: Step,
    sweep: dict[str, Any],
    cb: dict[str, Any],
) -> tuple[list[str], dict[str, Any]]:
    """The report's ceiling and ratio lines, and the targets of the issue, from the steps."""
    deposits = {s.offered_rps: s for s in steps if s.kind == "deposit"}
    health = {s.offered_rps: s for s in steps if s.kind == "health"}
    best = sweep["max_passing_rps"]
    best_step = deposits.get(best) if best else None
    # Saturation: the most deposits/s achieved by a step with < 1 % errors.
    clean = [s for s in deposits.values() if s.error_rate < 0.01]
    saturation = max(clean, key=lambda s: s.achieved_rps, default=None)
    sat_rps = saturation.achieved_rps if saturation else 0.0
    ceiling = health_max.achieved_rps
    lines = [
        f"Framework ceiling: the same server answers GET /health at {ceiling:,.0f} req/s "
        f"(closed loop, {health_connections} connections). Highest deposit rate "
        f"passing the sweep: {f'{best:g}/s' if best else 'none'} = "
        f"{(best or 0) / ceiling:.1%} of it; most deposits/s achieved without errors: "
        f"{sat_rps:,.0f}/s = {sat_rps / ceiling:.1%} of it."
    ]
    for rate, step in sorted(deposits.items()):
        h = health.get(rate)
        if h is None or step.errors or math.isnan(step.cpu_s_per_1000):
            continue  # overloaded steps: their cost per deposit is the overload's
        lines.append(
            f"At {rate:g}/s a deposit costs {step.cpu_s_per_1000 / h.cpu_s_per_1000:.0f}x the "
            f"service CPU of GET /health ({step.cpu_s_per_1000:.2f} vs "
            f"{h.cpu_s_per_1000:.2f} s per 1,000); p50/p99 overhead "
            f"{step.overhead.p50:.1f}/{step.overhead.p99:.1f} ms vs /health latency "
            f"{h.latency.p50:.1f}/{h.latency.p99:.1f} ms."
        )
    if saturation is not None and saturation.ok:
        per = 1000 / saturation.ok
        parts = {
            "service": saturation.service_cpu_s * per,
            "PostgreSQL": saturation.pg_cpu_s * per,
            "sandbox": saturation.sandbox_cpu_s * per,
            "load generator": saturation.loadgen_cpu_s * per,
        }
        known = sum(v for v in parts.values() if not math.isnan(v))
        cpus = os.cpu_count() or 1
        lines.append(
            f"CPU budget at {saturation.offered_rps:g}/s offered: a deposit with its callback "
            "costs "
            + ", ".join(f"{name} {ms:.2f} ms" for name, ms in parts.items() if not math.isnan(ms))
            + f" = {known:.2f} ms of CPU, so {cpus} cores cap the whole box near "
            f"{cpus * 1000 / known:,.0f} deposits/s (machine busy "
            f"{saturation.machine_cpu_pct:.0f}% during the step, other work included)."
        )
    commits = [
        s.commits_per_request
        for s in deposits.values()
        if not math.isnan(s.commits_per_request) and s.error_rate < 0.01
    ]
    per_deposit = sorted(commits)[len(commits) // 2] if commits else math.nan
    if pgb is not None:
        lines.append(
            f"PostgreSQL commit ceiling: pgbench -N {pgb.tps:,.0f} tx/s (8 clients). A deposit "
            f"with its callback costs ≈{per_deposit:.1f} commits (median over the steps), so "
            f"commits alone would cap deposits near {pgb.tps / per_deposit:,.0f}/s; at "
            f"{sat_rps:,.0f}/s we use {sat_rps * per_deposit / pgb.tps:.0%} of the commit "
            "ceiling."
        )
    if cb:
        lines.append(
            f"Callbacks: {cb['applied_rps']:,.0f} applied/s end to end (burst of "
            f"{cb['posted']} signed callbacks POSTed at {cb['offered_rps']:g}/s, accepted at "
            f"{cb['accepted_rps']:,.0f}/s with p99 {cb['accept_p99_ms']:.1f} ms)."
        )
    at500 = deposits.get(500.0)
    rss = max((s.rss_peak_mb for s in steps if not math.isnan(s.rss_peak_mb)), default=math.nan)
    pss = max((s.pss_peak_mb for s in steps if not math.isnan(s.pss_peak_mb)), default=math.nan)
    targets = {
        "max_sustained_rps": best,
        "saturation_rps": sat_rps,
        "target_1000_rps": bool(best and best >= 1000),
        "p99_overhead_at_500_ms": at500.overhead.p99 if at500 else None,
        "p50_overhead_at_500_ms": at500.overhead.p50 if at500 else None,
        "cpu_s_per_1000_at_500": at500.cpu_s_per_1000 if at500 else None,
        "rss_peak_mb": rss,
        "pss_peak_mb": pss,
        "commits_per_deposit": per_deposit,
    }
    ref = at500 or best_step or saturation
    if ref is not None:
        where = f"at {ref.offered_rps:g}/s" + ("" if at500 else " (no 500/s step)")
        lines.append(
            f"Targets, {where}: p99 overhead {ref.overhead.p99:.1f} ms (target ≤ 20), p50 "
            f"{ref.overhead.p50:.1f} ms (≤ 5), CPU {ref.cpu_s_per_1000:.2f} s per 1,000 "
            f"deposits (≤ 1); peak RSS {rss:.0f} MB, PSS {pss:.0f} MB (≤ 250); sustained "
            f"{best or 0:g}/s (≥ 1,000)."
        )
    return lines, targets
