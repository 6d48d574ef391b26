"""``uv run python -m bench``: set everything up, sweep the rates, write the report.

Order of a run: PostgreSQL (+ migrations, demo data, bench users), sandbox
PSPs (``--sandbox-workers`` processes on one port), the service (granian or
uvicorn, N workers), optionally Kafka; then the PostgreSQL commit ceiling
(pgbench -N), a warm-up, the framework ceiling (``GET /health`` at the same
rates and with a closed loop at full speed), the deposit sweep (open model,
each step settled: every deposit's callback applied before the next step),
optional refinement between the last passing and the first failing rate, an
optional py-spy profile step, and a burst of signed callbacks POSTed directly
to measure how fast callbacks are applied.
Writes ``bench/results/<timestamp>.json``, ``.md`` and ``.png``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from rich.console import Console

from bench.harness import Harness
from bench.options import parser
from bench.report import write_json
from bench.results import publish, render
from bench.run import run


def main(argv: Sequence[str] | None = None, console: Console | None = None) -> int:
    args = parser().parse_args(argv)
    console = console or Console()
    if args.render is not None:
        return render(args.render, console)
    harness = Harness(args, console)
    started = time.monotonic()
    try:
        document = run(harness)
    except KeyboardInterrupt:
        console.print("[red]interrupted[/red]")
        return 130
    except RuntimeError as exc:
        console.print(f"[red]benchmark failed:[/red] {exc}")
        return 1
    document["meta"]["wall_s"] = round(time.monotonic() - started, 1)
    base = args.results_dir / harness.timestamp
    write_json(base.with_suffix(".json"), document)
    publish(document, harness.steps, base, console)
    return 0
