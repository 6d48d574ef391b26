"""A whole benchmark run: the phases in order, and what the report says about the run.

PostgreSQL commit ceiling (pgbench), a warm-up, ``GET /health`` at the sweep's
rates and at full speed, the deposit sweep, the profile step, the callback
burst; then the ratios of the deposits to those ceilings.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import psutil

from bench import ceilings
from bench.callbacks import callback_burst
from bench.harness import Harness
from bench.options import Plan
from bench.paths import ROOT
from bench.profile_step import profile_step
from bench.ratios import ratios
from bench.sweep import sustainable_rate
from bench.sweep import sweep as deposit_sweep


def run(h: Harness) -> dict[str, Any]:
    """Every phase, in order, on a stack started for the run; the run's JSON document."""
    args = h.args
    plan = Plan.of(args)
    quick, rates, duration = args.quick, plan.rates, plan.duration
    args.results_dir.mkdir(parents=True, exist_ok=True)
    document: dict[str, Any] = {}
    with h.stack.running(h.say):
        document["meta"] = meta(h, duration)
        pgb = ceilings.pgbench_ceiling(h)
        h.say("warm-up: 3 s of deposits at 100/s")
        h.measure("warmup", h.spec("deposit", 100, 2 if quick else 3), settle=True)
        for rate in rates:
            h.measure(
                "health",
                h.spec("health", rate, min(duration, 5 if quick else 10)),
                settle=False,
            )
        health_max = ceilings.health_max(h, 2 if quick else 5)
        sweep = deposit_sweep(h, rates, duration, plan.refine)
        sustainable = sustainable_rate(h)
        prof = None
        if plan.profile:
            prof = profile_step(h, args.profile_rate or min(500.0, sustainable), min(duration, 10))
        cb = callback_burst(h, plan.callbacks, args.callback_rate, sustainable)
        document.update(
            pgbench=pgb.to_json() if pgb else None,
            sweep=sweep,
            callbacks=cb,
            profile=prof,
            health_max=health_max.to_json(),
            service_warnings=_warnings(h.stack.service_log),
        )
        document["ratio_lines"], document["targets"] = ratios(
            h.steps, args.health_connections, pgb, health_max, sweep, cb
        )
    document["steps"] = [s.to_json() for s in h.steps]
    return document


def meta(h: Harness, duration: float) -> dict[str, Any]:
    """Settings of the run and facts of the machine, for the report's header."""
    return {
        "timestamp": h.timestamp,
        "server": h.args.server,
        "workers": h.args.workers,
        "sandbox_workers": h.args.sandbox_workers,
        "gateway_latency_ms": h.args.gateway_latency_ms,
        "callback_delay_ms": h.args.callback_delay_ms,
        "duration_s": duration,
        "kafka": bool(h.stack.kafka_bootstrap),
        "users": h.args.users,
        "idempotency_keys": h.args.idempotency_keys,
        "database": h.stack.database_note,
        "cpus": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 1024**3, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "commit": git_commit(),
        "service_command": " ".join(
            Path(a).name if a == sys.executable else a for a in h.stack.service_command()
        ),
        "log_level": h.args.log_level,
        "quick": h.args.quick,
    }


def git_commit() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],  # noqa: S607
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return head + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "?"


def _warnings(path: Path, top: int = 20) -> list[tuple[str, int]]:
    """The service's WARNING-and-worse log messages (and non-JSON lines), most frequent first."""
    counts: Counter[str] = Counter()
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            counts[line[:200]] += 1
            continue
        if isinstance(record, dict) and record.get("level") in ("WARNING", "ERROR", "CRITICAL"):
            counts[
                f"{record['level']} {record.get('logger')}: {str(record.get('message'))[:200]}"
            ] += 1
    return counts.most_common(top)
