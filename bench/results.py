"""The run's files next to ``<results>/<timestamp>.json``: the markdown and the plot."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from bench import profile as profiling
from bench.paths import ROOT
from bench.plot import plot
from bench.report import cost_table, markdown, rate_text, step_table, write_json
from bench.steps import Step


def publish(run: dict[str, Any], steps: Sequence[Step], base: Path, console: Console) -> None:
    """Write the markdown and the plot next to ``base``.json and print the tables."""
    meta = run["meta"]
    shown = [s for s in steps if s.kind != "warmup"]
    base.with_suffix(".md").write_text(markdown(run, shown))
    title = (
        f"{meta['server']} x{meta['workers']}, gateway {meta['gateway_latency_ms']} ms, "
        f"{meta['cpus']} CPUs, {meta['timestamp']}"
    )
    plotted = plot(base.with_suffix(".png"), shown, title)
    console.print()
    console.print(step_table(shown), markup=False)
    console.print()
    console.print(cost_table(shown), markup=False)
    console.print()
    for line in run.get("ratio_lines", []):
        console.print(f"- {line}", markup=False)
    console.print(
        f"\nhighest passing rate: {rate_text(run['sweep']['max_passing_rps'])} deposits/s; "
        f"written {base}.json, .md"
        + (", .png" if plotted else " (no matplotlib: no plot)")
        + (f" in {meta['wall_s']:.0f} s" if meta.get("wall_s") else "")
    )


def render(path: Path, console: Console) -> int:
    """Rewrite the markdown and the plot of a saved run (and re-read its profile)."""
    run = json.loads(path.read_text())
    profile = run.get("profile")
    raw = ROOT / profile["raw_path"] if profile and profile.get("raw_path") else None
    if profile and raw is not None and raw.exists():
        fresh = profiling.summarize(raw).to_json()
        fresh["raw_path"], fresh["where"] = profile["raw_path"], profile.get("where", "")
        run["profile"] = fresh
        write_json(path, run)
    publish(run, [Step.from_json(s) for s in run["steps"]], path.with_suffix(""), console)
    return 0
