"""The replay's PNG chart: share per gateway now vs draft, one panel per country.

matplotlib is imported only here, only when a chart is asked for: the
service does not need it, so it stays out of the runtime dependencies
(``uv sync --group dev`` or ``pip install matplotlib`` brings it).
"""

from __future__ import annotations

from pathlib import Path

from entrypoints.http.routing_schemas import ReplayOut


class ChartUnavailable(Exception):
    """matplotlib is not installed."""


def write_chart(report: ReplayOut, path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ChartUnavailable(
            "--chart needs matplotlib, which is not installed (pip install matplotlib); "
            "the table and --json carry the same numbers"
        ) from exc
    results = [*report.countries, report.total]
    fig, axes = plt.subplots(1, len(results), figsize=(4 * len(results), 3.5), squeeze=False)
    for ax, r in zip(axes[0], results, strict=True):
        ids = [g.gateway_id for g in r.gateways]
        xs = range(len(ids))
        ax.bar([x - 0.2 for x in xs], [g.share_now for g in r.gateways], 0.4, label="now")
        ax.bar([x + 0.2 for x in xs], [g.share_draft for g in r.gateways], 0.4, label="draft")
        ax.set_xticks(list(xs), ids)
        ax.set_ylim(0, 1)
        ax.set_title(f"{r.country or 'total'}: {r.changed}/{r.transactions} change")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)
