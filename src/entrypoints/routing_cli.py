"""``payments routing replay``: try draft routing on recorded traffic before it goes live.

Reads the drafts (``{"US": {<routing document>}, ...}``, the body of
``PUT /countries/{code}/routing`` per country) from a file, replays the
period's recorded deposits and withdrawals through them (nothing is sent to
any gateway) and prints a table (or ``--json``), with an optional PNG chart
of the share per gateway now vs draft. Exit status: 0 done, 2 could not run.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from application.routing_replay import ReplayCommand, ReplayRouting
from domain.errors import PaymentError
from entrypoints.embedded import embedded_settings
from entrypoints.http.routing_schemas import ReplayOut, RoutingBody, replay_out
from entrypoints.settings import Settings, SettingsError

if TYPE_CHECKING:
    from entrypoints.http.routing_schemas import ReplayResultOut


def add_routing_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``payments routing replay`` on the top-level sub-command parser."""
    from entrypoints.check import _timestamp  # the same ISO 8601 grammar as `check --since`

    routing = sub.add_parser("routing", help="routing tools (replay a draft on recorded traffic)")
    verbs = routing.add_subparsers(dest="routing_command", required=True, metavar="VERB")
    replay = verbs.add_parser(
        "replay",
        help="replay recorded traffic through draft routing documents",
        description="Route the period's recorded deposits and withdrawals again through "
        "the drafts and report, per country and in total, the share per gateway now vs "
        "draft, how many transactions change gateway and the expected success rate and "
        "latency under the drafts (with intervals; see docs/operations.md).",
    )
    replay.add_argument("--draft", type=Path, required=True, metavar="FILE", help="drafts JSON")
    replay.add_argument("--since", type=_timestamp, metavar="ISO8601", help="default: 7 days ago")
    replay.add_argument("--until", type=_timestamp, metavar="ISO8601", help="default: now")
    replay.add_argument("--confidence", type=float, default=0.95, help="of the intervals")
    replay.add_argument("--json", action="store_true", help="print the report as JSON")
    replay.add_argument("--chart", type=Path, metavar="PNG", help="write a chart (matplotlib)")


def run_routing(args: argparse.Namespace, settings: Settings) -> int:
    """Run ``payments routing replay``; returns the exit code."""
    if settings.embedded:
        settings = embedded_settings(settings)
    if not settings.database_url:
        raise SettingsError("PAYMENTS_DATABASE_URL is not set")
    try:
        drafts = msgspec.json.decode(args.draft.read_bytes(), type=dict[str, RoutingBody])
        command = ReplayCommand(
            {c: d.to_config() for c, d in drafts.items()}, args.since, args.until, args.confidence
        )
        report = asyncio.run(_replay(settings, command))
    except (OSError, msgspec.ValidationError, msgspec.DecodeError, PaymentError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(msgspec.json.encode(report).decode())
    else:
        Console().print(table(report))
    if args.chart is not None:
        from entrypoints.replay_chart import ChartUnavailable, write_chart

        try:
            write_chart(report, args.chart)
        except ChartUnavailable as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    return 0


async def _replay(settings: Settings, command: ReplayCommand) -> ReplayOut:
    from entrypoints.container import make_container

    container = make_container(settings.with_(db_pool_min=1, db_pool_max=2))
    try:
        use_case: ReplayRouting = await _resolve(container.replay_routing)
        with Progress(console=Console(stderr=True), transient=True) as progress:
            task = progress.add_task("replaying", total=None)

            def advance(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            return replay_out(await use_case.execute(command, advance))
    finally:
        stopped = container.shutdown_resources()
        if stopped is not None:
            await stopped


async def _resolve(provider: Any) -> Any:
    value = provider()  # awaitable when it depends on an async resource (the pool)
    return await value if inspect.isawaitable(value) else value


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def table(report: ReplayOut) -> Table:
    """One row per country and gateway, and the country's estimate."""
    out = Table(
        title=f"routing replay {report.since:%Y-%m-%d %H:%M} → {report.until:%Y-%m-%d %H:%M} "
        f"(intervals at {report.confidence:.0%})"
    )
    for column in ("country", "gateway", "now", "draft", "changed", "success now", "draft est."):
        out.add_column(column)
    for result in [*report.countries, report.total]:
        _rows(out, result)
    return out


def _rows(out: Table, r: ReplayResultOut) -> None:
    est = r.success_rate
    interval = f"{_pct(est.estimate)} [{_pct(est.low)}, {_pct(est.high)}]"
    for n, g in enumerate(r.gateways):
        first = n == 0
        out.add_row(
            (r.country or "total") if first else "",
            g.gateway_id,
            f"{g.now} ({g.share_now:.0%})",
            f"{g.draft} ({g.share_draft:.0%})",
            f"{r.changed}/{r.transactions}" if first else "",
            _pct(r.success_rate_now) if first else "",
            interval if first else "",
        )
    out.add_section()
