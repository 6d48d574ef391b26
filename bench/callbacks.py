"""The callback burst: deposits left processing, then their signed callbacks POSTed directly.

The sandbox is told to stay silent while the deposits are created, so the
burst measures how fast the service receives and applies callbacks, not how
fast the sandbox sends them.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from typing import Any

import psycopg

from bench.harness import Harness
from bench.steps import Step, summarize
from bench.templates import callback_template


def callback_burst(h: Harness, count: int, rate: float, create_rate: float) -> dict[str, Any]:
    """Deposits left processing, then their signed callbacks POSTed directly."""
    stack = h.stack
    stack.set_behaviour(callback_delay_ms=600_000)  # the sandbox stays silent
    since = datetime.now(UTC)
    create_rate = min(create_rate, 400.0)
    count = min(count, int(create_rate * 20))
    h.say(f"callbacks: creating {count} deposits at {create_rate:g}/s, left processing")
    result, _ = h.run_loadgen(h.spec("deposit", create_rate, count / create_rate))
    time.sleep(0.5)
    with psycopg.connect(stack.url) as conn:
        rows = conn.execute(
            "SELECT id::text, gateway_id, reference_id, amount_minor, currency "
            "FROM transactions WHERE created_at >= %s AND status = 'processing'",
            (since,),
        ).fetchall()
    stack.set_behaviour()
    templates = [callback_template(stack.secrets.webhook, *row) for row in rows]
    if not templates:
        raise RuntimeError(f"no processing deposits to call back: {result.errors}")
    h.say(f"callbacks: POSTing {len(templates)} signed callbacks at {rate:g}/s")
    applied_since = datetime.now(UTC)
    spec = h.spec("callback", rate, len(templates) / rate, templates=templates)
    holder: list[Step] = []
    with h.costs(holder):
        posted, cpu = h.run_loadgen(spec)
        step = summarize(posted, "callback")
        step.loadgen_cpu_s = cpu
        holder.append(step)
        ids = [row[0] for row in rows]
        applied, span = _wait_applied(stack.url, ids, applied_since)
    step.completed = applied
    step.applied_rps = applied / span if span and span > 0 else math.nan
    h.steps.append(step)
    h.print_step(step)
    h.say(f"callbacks applied: {applied}/{len(ids)} in {span:.2f} s → {step.applied_rps:,.0f}/s")
    return {
        "posted": len(templates),
        "offered_rps": rate,
        "accepted_rps": step.achieved_rps,
        "accept_p99_ms": step.latency.p99,
        "applied": applied,
        "apply_span_s": span,
        "applied_rps": step.applied_rps,
        "errors": step.errors,
    }


def _wait_applied(url: str, ids: list[str], since: datetime) -> tuple[int, float]:
    """Until every deposit of ``ids`` is completed, or no more are for 10 s (at most 120 s).

    How many were, and the seconds from ``since`` to the last one.
    """
    deadline = time.monotonic() + 120
    applied, span = 0, math.nan
    with psycopg.connect(url, autocommit=True) as conn:
        progress = (time.monotonic(), -1)
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT count(*) FILTER (WHERE status = 'completed'), "
                "extract(epoch FROM max(updated_at) - %s) "
                "FROM transactions WHERE id = ANY(%s::uuid[])",
                (since, ids),
            ).fetchone()
            assert row is not None
            applied, span = int(row[0]), float(row[1] or math.nan)
            if applied >= len(ids):
                break
            if applied != progress[1]:
                progress = (time.monotonic(), applied)
            elif time.monotonic() - progress[0] > 10:
                break  # the rest will not be applied (see the service log)
            time.sleep(0.2)
    return applied, span
