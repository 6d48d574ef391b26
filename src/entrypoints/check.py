"""``payments check``: verify the money invariants of a running (or stopped) service.

Reads the database (``PAYMENTS_DATABASE_URL``, else the embedded default),
every gateway's own ledger (``PAYMENTS_GATEWAY_URL_<ID>`` / the sandbox, with
the first admin key) and the transactions topic (when
``PAYMENTS_KAFKA_BOOTSTRAP_SERVERS`` is set), and prints which invariants
hold. Exit status: 0 when all hold, 1 when any is broken, 2 when the check
could not run (configuration, database unreachable).

Meant for a service at rest (after a load run or a fault scenario): the
sources are read one after another, so payments moving meanwhile can show as
false alarms.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from application.verification.catalog import INVARIANTS
from application.verification.check_invariants import CheckInvariants
from application.verification.report import CheckReport
from domain.errors import ServiceUnavailable
from entrypoints.embedded import embedded_settings
from entrypoints.settings import Settings, SettingsError

if TYPE_CHECKING:
    from entrypoints.container import Container

# Violations printed per invariant in the readable report (--json has them all).
SHOWN_PER_INVARIANT = 20


def add_check_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``payments check`` on the top-level sub-command parser."""
    check = sub.add_parser(
        "check",
        help="verify the money invariants (ledger, outbox, gateways, Kafka); exit 1 if broken",
        description="Check that every ledger journal sums to zero, balances equal their "
        "postings and are never negative, held funds match open withdrawals, journals and "
        "outbox events match each transaction's state, no idempotency reference was charged "
        "twice, terminal transactions match the gateways' own ledgers and the transactions "
        "topic holds every published event in version order. Run it on a service at rest. "
        "Exit status: 0 all invariants hold, 1 some are broken, 2 the check could not run.",
    )
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.add_argument(
        "--no-gateways",
        action="store_true",
        help="skip the gateway ledgers (e.g. real PSPs without a /ledger route)",
    )
    check.add_argument(
        "--no-kafka", action="store_true", help="skip the transactions topic on Kafka"
    )
    check.add_argument(
        "--since",
        type=_timestamp,
        metavar="ISO8601",
        help="cross-check with the gateways and Kafka only transactions created from then "
        "on (the sandbox forgets its ledger when it restarts; events dispatched before Kafka "
        "was configured never reached it); the database invariants always cover everything",
    )


def run_check(args: argparse.Namespace, settings: Settings) -> int:
    """Run ``payments check``; returns the exit code."""
    if settings.embedded:
        settings = embedded_settings(settings)  # starts (or reuses) the embedded server
    if not settings.database_url:
        raise SettingsError("PAYMENTS_DATABASE_URL is not set")
    try:
        report = asyncio.run(_check(args, settings))
    except ServiceUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(render(report))
    return 0 if report.ok else 1


async def _check(args: argparse.Namespace, settings: Settings) -> CheckReport:
    # Imported here: the other commands need not load every adapter.
    from entrypoints.container import make_container

    # A check needs one connection at a time, not the service's pool.
    container = make_container(settings.with_(db_pool_min=1, db_pool_max=2))
    try:
        use_case: CheckInvariants = await _resolve(
            container.check_invariants, **_sources(args, settings, container)
        )
        return await use_case.execute()
    finally:
        stopped = container.shutdown_resources()
        if stopped is not None:
            await stopped


def _sources(args: argparse.Namespace, settings: Settings, container: Container) -> dict[str, Any]:
    """The optional sources to read, and why any other is skipped."""
    skipped: list[str] = []
    gateways = events = None
    if args.no_gateways:
        skipped.append("gateways (--no-gateways)")
    elif not settings.gateways:
        skipped.append("gateways (none configured)")
    else:
        gateways = container.gateway_ledgers()
    if args.no_kafka:
        skipped.append("kafka (--no-kafka)")
    elif not settings.kafka_bootstrap_servers:
        skipped.append("kafka (PAYMENTS_KAFKA_BOOTSTRAP_SERVERS not set)")
    else:
        events = container.event_stream()
    return {"gateways": gateways, "events": events, "since": args.since, "skipped": skipped}


async def _resolve(provider: Any, **kwargs: Any) -> Any:
    """Call a provider; await it when it depends on an async resource (the pool)."""
    value = provider(**kwargs)
    return await value if inspect.isawaitable(value) else value


def render(report: CheckReport) -> str:
    """The report for humans: a verdict, each invariant's result, then the violations."""
    failed = report.failed()
    lines = [
        "payments check: "
        + (
            "OK, all invariants hold"
            if report.ok
            else f"FAILED, {len(report.violations)} violation(s) of {len(failed)} invariant(s)"
        ),
        "checked: "
        + ", ".join(f"{name.replace('_', ' ')} {n}" for name, n in report.counts.items()),
    ]
    lines += [f"skipped: {what}" for what in report.skipped]
    lines.append("")
    for name in report.invariants:
        mark = f"FAIL ({failed[name]})" if name in failed else "ok"
        lines.append(f"  {mark:<10} {name}: {INVARIANTS.get(name, '')}")
    for name in failed:
        shown = [v for v in report.violations if v.invariant == name]
        lines += ["", f"{name}:"]
        for violation in shown[:SHOWN_PER_INVARIANT]:
            prefix = f"transaction {violation.transaction_id}: " if violation.transaction_id else ""
            lines.append(f"  - {prefix}{violation.detail}")
        if len(shown) > SHOWN_PER_INVARIANT:
            lines.append(f"  ... and {len(shown) - SHOWN_PER_INVARIANT} more (--json lists all)")
    if "gateway.outcome_matches" in failed or "kafka.complete" in failed:
        lines += [
            "",
            "note: the sandbox keeps its ledger in memory, and events dispatched before Kafka "
            "was configured never reached it: after a restart, or after switching Kafka on, "
            "use --since to cross-check only newer transactions.",
        ]
    return "\n".join(lines)


def _timestamp(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 timestamp: {value!r}") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
