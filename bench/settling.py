"""Between and after steps: every deposit final, invariants checked, the stack recovered.

A step's numbers are only worth comparing when it starts from a quiet stack:
no callbacks left over from the step before, breakers closed, the sandbox no
longer re-sending what an overload left undelivered.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime

import psycopg

from bench.control import http
from bench.database import COUNTRIES
from bench.stack import Stack
from bench.steps import Step

# Deposits made since a time that reached "completed": how many, over how long,
# and how long after creation (gateway latency + callback delay + our work).
COMPLETION_STATS = """
SELECT count(*),
       extract(epoch FROM max(updated_at) - min(updated_at)),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM updated_at - created_at)),
       percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM updated_at - created_at))
FROM transactions WHERE created_at >= %s AND status = 'completed'
"""


def check_invariants(stack: Stack, say: Callable[[str], None]) -> str:
    """``payments check`` on the settled stack (outside the step's cost window)."""
    proc = subprocess.run(
        [sys.executable, "-m", "entrypoints.cli", "check", "--json"],
        env=stack.base_env(),
        capture_output=True,
        timeout=300,
        check=False,
    )
    if proc.returncode == 0:
        return "ok"
    try:
        report = json.loads(proc.stdout)
        broken = [c["name"] for c in report.get("checks", []) if not c.get("ok", True)]
    except (ValueError, TypeError, AttributeError):
        broken = [proc.stderr.decode(errors="replace").strip()[-200:]]
    say(f"[red]payments check failed[/red]: {broken}")
    return f"broken ({', '.join(map(str, broken))})"


def quiesce_sandbox(stack: Stack, say: Callable[[str], None], timeout_s: float = 120) -> None:
    """Wait until the sandbox stops re-sending the callbacks an overload left it.

    It retries each undelivered callback with backoff for about a minute,
    which slows its payment answers (the next steps' gateway time). It is
    not restarted instead: a new sandbox starts with an empty ledger, and
    (before its references were seeded from the clock) numbered them from 1
    again, while Adyen-style callbacks are deduplicated by reference.
    """
    tree = stack.sandbox_tree
    assert tree is not None
    started = time.monotonic()
    last, quiet = tree.cpu_seconds(), 0
    while quiet < 3 and time.monotonic() - started < timeout_s:
        time.sleep(1)
        now = tree.cpu_seconds()
        quiet = quiet + 1 if now - last < 0.03 else 0
        last = now
    say(f"sandbox quiet after {time.monotonic() - started:.0f} s")


def recover(
    stack: Stack, say: Callable[[str], None], timeout_s: float = 120, in_a_row: int = 8
) -> None:
    """After errors: wait until single deposits go through again.

    An overload opens the gateways' breakers (and may fail health checks);
    they close only after their reset time and a successful trial call, so
    the next step would measure the aftermath instead of the service.
    """
    user_id, country = stack.user_ids()[0]
    currency, amount = COUNTRIES[country]
    body = {"user_id": user_id, "amount": amount, "currency": currency}
    started = time.monotonic()
    good = 0
    while time.monotonic() - started < timeout_s:
        try:
            status, _ = http(
                "POST", f"{stack.service_url}/deposit", body, stack.secrets.api_key, 15
            )
        except OSError:
            status = 0
        good = good + 1 if 200 <= status < 300 else 0
        if good >= in_a_row:
            say(f"recovered after {time.monotonic() - started:.0f} s")
            return
        time.sleep(0.5)
    say(f"[yellow]not recovered after {timeout_s:.0f} s[/yellow]")


def settle(stack: Stack, step: Step, since: datetime, timeout_s: float = 60) -> None:
    """Wait until every deposit since ``since`` is final; record how callbacks kept up."""
    deadline = time.monotonic() + timeout_s
    with psycopg.connect(stack.url, autocommit=True) as conn:
        unsettled = 0
        last_change, last = time.monotonic(), -1
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT count(*) FROM transactions "
                "WHERE created_at >= %s AND status IN ('pending', 'processing')",
                (since,),
            ).fetchone()
            unsettled = int(row[0]) if row else 0
            if unsettled == 0:
                break
            if unsettled != last:
                last_change, last = time.monotonic(), unsettled
            elif time.monotonic() - last_change > 15:
                break  # no callback arrives any more (lost in an overload)
            time.sleep(0.25)
        step.unsettled = unsettled
        row = conn.execute(
            COMPLETION_STATS,
            (since,),
        ).fetchone()
    if row and row[0]:
        step.completed = int(row[0])
        span = float(row[1] or 0)
        step.applied_rps = step.completed / span if span > 0 else math.nan
        step.completion_p50_ms = float(row[2]) * 1000
        step.completion_p99_ms = float(row[3]) * 1000
    if unsettled:
        step.note += f"{unsettled} deposits not final after {timeout_s:.0f} s; "
