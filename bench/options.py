"""The options of ``python -m bench`` and what they mean for a run (``--quick`` defaults)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from bench.paths import RESULTS

DEFAULT_RATES = "100,250,500,750,1000,1250"
QUICK_RATES = "50,100"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark the payments service: deposits/s, orchestration overhead, "
        "CPU and memory per deposit, against the machine's own ceilings.",
    )
    p.add_argument("--rates", help=f"deposit rates per second (default {DEFAULT_RATES})")
    p.add_argument("--duration", type=float, help="seconds per step (default 15; --quick 4)")
    p.add_argument("--workers", type=int, default=2, help="service worker processes")
    p.add_argument(
        "--sandbox-workers",
        type=int,
        default=2,
        metavar="N",
        help="sandbox PSP processes sharing its port (payments sandbox --workers N; default 2)",
    )
    p.add_argument("--server", choices=("granian", "uvicorn"), default="granian")
    p.add_argument("--gateway-latency-ms", type=int, default=50, help="sandbox answer latency")
    p.add_argument("--callback-delay-ms", type=int, default=200, help="sandbox callback delay")
    p.add_argument(
        "--kafka",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="run with a Kafka broker (PAYMENTS_BENCH_KAFKA_BOOTSTRAP or scripts/kafka-broker)",
    )
    p.add_argument("--quick", action="store_true", help="smoke run, about a minute")
    p.add_argument(
        "--profile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="py-spy profile step (default: on, off with --quick)",
    )
    p.add_argument(
        "--profile-rate",
        type=float,
        help="deposits/s while profiling (default: the highest rate the sweep "
        "achieved without errors, at most 500)",
    )
    p.add_argument(
        "--refine", type=int, help="bisection steps after the sweep (default 2; quick 0)"
    )
    p.add_argument("--callback-rate", type=float, default=500, help="signed callbacks/s POSTed")
    p.add_argument("--callbacks", type=int, help="callbacks in the burst (default 2000; quick 500)")
    p.add_argument("--users", type=int, default=1000, help="bench users across US/GB/DE/JP")
    p.add_argument(
        "--idempotency-keys",
        action="store_true",
        help="send a distinct Idempotency-Key with every deposit",
    )
    p.add_argument(
        "--health-connections",
        type=int,
        default=64,
        help="connections of the closed-loop GET /health maximum",
    )
    p.add_argument("--pgbench-seconds", type=int, help="pgbench -N run time (default 5; quick 3)")
    p.add_argument(
        "--database-url",
        help="PostgreSQL server to use (default PAYMENTS_BENCH_DATABASE_URL, else "
        "embedded); a scratch database is created on it",
    )
    p.add_argument("--log-level", default="INFO", help="service PAYMENTS_LOG_LEVEL")
    p.add_argument("--pool-max", type=int, help="PAYMENTS_DB_POOL_MAX per worker")
    p.add_argument(
        "--service-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra PAYMENTS_* setting for the service (repeatable), e.g. "
        "PAYMENTS_MAX_INFLIGHT_PAYMENTS=0",
    )
    p.add_argument(
        "--webhook-endpoints",
        type=int,
        default=0,
        metavar="N",
        help="register N webhook endpoints (all events) on local receivers before the load",
    )
    p.add_argument(
        "--webhook-hanging",
        type=int,
        default=0,
        metavar="K",
        help="of those, K never answer (each attempt runs into PAYMENTS_WEBHOOK_TIMEOUT_S)",
    )
    p.add_argument("--results-dir", type=Path, default=RESULTS)
    p.add_argument(
        "--render",
        type=Path,
        metavar="JSON",
        help="only rewrite the .md and .png of a saved run (re-reading its profile)",
    )
    return p


@dataclass(frozen=True, slots=True)
class Plan:
    """The phases' settings once the ``--quick`` defaults are applied."""

    rates: list[float]
    duration: float
    refine: int
    profile: bool
    callbacks: int

    @classmethod
    def of(cls, args: argparse.Namespace) -> Plan:
        quick = args.quick
        rates = [
            float(r) for r in (args.rates or (QUICK_RATES if quick else DEFAULT_RATES)).split(",")
        ]
        return cls(
            rates=rates,
            duration=args.duration or (4.0 if quick else 15.0),
            refine=args.refine if args.refine is not None else (0 if quick else 2),
            profile=args.profile if args.profile is not None else not quick,
            callbacks=args.callbacks or (500 if quick else 2000),
        )
