"""The markdown report of a run: its tables, ratios and profile; and its JSON file."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.steps import OVERHEAD_P99_LIMIT_MS, Step, clean_json


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
            f"errors: {rate_text(sweep['max_passing_rps'])} deposits/s** "
            f"(first failing: {rate_text(sweep['first_failing_rps'])}).",
        ]
    return "\n".join(lines) + "\n"


def rate_text(value: float | None) -> str:
    """A rate for the summary lines: ``none`` when there is none."""
    return "none" if not value else f"{value:g}"


def write_json(path: Path, run: dict[str, Any]) -> None:
    path.write_text(json.dumps(clean_json(run), indent=1))
