"""The profile step: deposits at a steady rate while py-spy samples the service's workers."""

from __future__ import annotations

import subprocess
import time
from typing import Any

from bench import profile as profiling
from bench.harness import Harness
from bench.paths import ROOT


def profile_step(h: Harness, rate: float, duration: float) -> dict[str, Any] | None:
    """The profile summary for the report; None when py-spy could not record."""
    tree = h.stack.service_tree
    assert tree is not None
    assert h.stack.service is not None
    raw = h.stack.workdir / "profile.collapsed"
    h.say(f"profiling the workers with py-spy at {rate:g} deposits/s for {duration:g} s")
    try:
        recorder = profiling.start_recording(h.stack.service.pid, raw, duration + 1)
    except RuntimeError as exc:
        h.say(f"[yellow]{exc}[/yellow]")
        return None
    time.sleep(0.5)
    step = h.measure("profile", h.spec("deposit", rate, duration), settle=True)
    step.note += "under py-spy sampling; "
    try:
        _, err = recorder.communicate(timeout=duration + 60)
    except subprocess.TimeoutExpired:
        recorder.kill()
        return None
    if not raw.exists():
        h.say(f"[yellow]py-spy wrote nothing: {err.decode(errors='replace')[-500:]}[/yellow]")
        return None
    summary = profiling.summarize(raw)
    kept = h.args.results_dir / f"{h.timestamp}-profile.collapsed"
    kept.write_text(raw.read_text())
    summary.raw_path = str(kept.relative_to(ROOT)) if kept.is_relative_to(ROOT) else str(kept)
    out = summary.to_json()
    out["where"] = f"{h.args.server} workers at {rate:g} deposits/s"
    return out
