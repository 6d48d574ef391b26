"""The run's plot: latency and overhead against achieved throughput (matplotlib)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bench.steps import OVERHEAD_P99_LIMIT_MS, Step


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
