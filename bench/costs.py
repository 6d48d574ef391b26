"""What a step cost the machine: CPU of each process tree, peak memory, commits."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator
from typing import Any

import psutil
import psycopg

from bench.processes import RssSampler
from bench.stack import Stack
from bench.steps import Step

MB = 1024 * 1024


@contextlib.contextmanager
def cost_window(stack: Stack, step_holder: list[Step]) -> Iterator[None]:
    """CPU, RSS, commits of everything while the block runs; set on the step it yields."""
    assert stack.service_tree is not None
    assert stack.sandbox_tree is not None
    trees = {"service": stack.service_tree}
    service0 = stack.service_tree.cpu_seconds()
    sandbox0 = stack.sandbox_tree.cpu_seconds()
    pg0 = stack.pg_tree.cpu_seconds() if stack.pg_tree else math.nan
    machine0 = psutil.cpu_times()
    commits0 = commits(stack.url)
    with RssSampler(trees) as rss:
        yield
    step = step_holder[0]
    machine1 = psutil.cpu_times()
    busy_s = busy(machine1) - busy(machine0)
    total = sum(machine1) - sum(machine0)
    step.service_cpu_s = stack.service_tree.cpu_seconds() - service0
    step.sandbox_cpu_s = stack.sandbox_tree.cpu_seconds() - sandbox0
    step.pg_cpu_s = (stack.pg_tree.cpu_seconds() - pg0) if stack.pg_tree else math.nan
    step.machine_cpu_pct = busy_s / total * 100 if total > 0 else math.nan
    step.rss_peak_mb = rss.peak["service"] / MB
    step.pss_peak_mb = rss.peak_pss["service"] / MB
    if step.ok:
        step.cpu_s_per_1000 = step.service_cpu_s / step.ok * 1000
    step.pg_commits = commits(stack.url) - commits0
    if step.ok:
        step.commits_per_request = step.pg_commits / step.ok


def commits(url: str) -> int:
    """Transactions committed in the database so far (``pg_stat_database``)."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
    return int(row[0]) if row else 0


def background_cpu(seconds: float = 1.0) -> float:
    """Machine CPU % busy just before a step, with our stack idle: other people's work."""
    before = psutil.cpu_times()
    time.sleep(seconds)
    after = psutil.cpu_times()
    total = sum(after) - sum(before)
    return (busy(after) - busy(before)) / total * 100 if total > 0 else math.nan


def busy(times: Any) -> float:
    """Busy CPU seconds of ``psutil.cpu_times()``: all but idle and I/O wait."""
    return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))
