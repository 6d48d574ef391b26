"""The deposit sweep: a step per rate until overload, then bisection between pass and fail."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from bench.harness import Harness
from bench.steps import Step, judge


def sweep(h: Harness, rates: Sequence[float], duration: float, refine: int) -> dict[str, Any]:
    """Deposit steps at ``rates`` (stopping at overload), then ``refine`` bisections."""
    done: dict[float, Step] = {}
    for rate in rates:
        step = deposit_step(h, rate, duration)
        done[rate] = step
        if step.error_rate > 0.02 or step.achieved_rps < 0.8 * rate:
            skipped = [r for r in rates if r > rate]
            if skipped:
                h.say(f"overloaded at {rate:g}/s: skipping {skipped}")
            break
    for _ in range(refine):
        passing = [r for r, s in done.items() if s.passed]
        failing = [r for r, s in done.items() if not s.passed]
        low = max(passing, default=0.0)
        above = [r for r in failing if r > low]
        if not above:
            break
        high = min(above)
        mid = round((low + high) / 2 / 25) * 25
        if mid <= low or mid >= high:
            break
        done[mid] = deposit_step(h, mid, duration)
    passing = [r for r, s in done.items() if s.passed]
    max_pass = max(passing, default=None)
    failing = [r for r, s in done.items() if not s.passed and (max_pass is None or r > max_pass)]
    return {
        "max_passing_rps": max_pass,
        "first_failing_rps": min(failing, default=None),
        "rates": sorted(done),
    }


def deposit_step(h: Harness, rate: float, duration: float) -> Step:
    step = h.measure("deposit", h.spec("deposit", rate, duration), settle=True)
    step.passed = judge(step)
    return step


def sustainable_rate(h: Harness) -> float:
    """The highest deposit rate achieved with < 1 % errors (25/s steps, at least 25)."""
    ok = [
        s.achieved_rps
        for s in h.steps
        if s.kind == "deposit" and s.error_rate < 0.01 and s.achieved_rps > 0
    ]
    return max(25.0, math.floor(max(ok, default=25.0) / 25) * 25)
