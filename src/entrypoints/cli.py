"""Console script ``payments``: serve, migrate, sandbox."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from entrypoints.check import add_check_parser, run_check
from entrypoints.keys import add_keys_parser, run_keys
from entrypoints.logging_setup import configure_logging
from entrypoints.routing_cli import add_routing_parser, run_routing
from entrypoints.settings import Settings, SettingsError, load_settings

log = logging.getLogger("payments")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="payments",
        description="Payment gateway integration service. Configure with PAYMENTS_* "
        "environment variables (see README); with no PAYMENTS_DATABASE_URL everything "
        "runs on the embedded default.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = sub.add_parser(
        "serve",
        help="run the API (plus embedded PostgreSQL, sandbox and demo data by default)",
        description="Run the HTTP API on PAYMENTS_HOST:PAYMENTS_PORT. With no "
        "PAYMENTS_DATABASE_URL: start embedded PostgreSQL under PAYMENTS_DATA_DIR, migrate, "
        "load demo data, serve the sandbox gateways and print the generated API keys.",
    )
    serve.add_argument("--host", help="listen address (default PAYMENTS_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="listen port (default PAYMENTS_PORT or 8080)")
    serve.add_argument(
        "--server",
        choices=("uvicorn", "granian"),
        default="uvicorn",
        help="uvicorn: one process (default, and the only one for the embedded default); "
        "granian: --workers processes, production (needs PAYMENTS_DATABASE_URL)",
    )
    serve.add_argument(
        "--workers", type=_positive, default=2, metavar="N", help="granian processes (default 2)"
    )
    sub.add_parser(
        "migrate",
        help="apply SQL migrations to PAYMENTS_DATABASE_URL",
        description="Apply pending SQL migrations to PAYMENTS_DATABASE_URL (or the embedded "
        "database when unset). Safe to run from several processes at once.",
    )
    sub.add_parser(
        "worker",
        help="run only the workers (outbox relay, callback consumer, health checker)",
        description="Run the background workers without the HTTP API: the outbox relay "
        "(one leader across processes), the Kafka callback consumer (when "
        "PAYMENTS_KAFKA_BOOTSTRAP_SERVERS is set) and the gateway health checker.",
    )
    sub.add_parser(
        "reconcile",
        help="run one reconciliation pass now and print what it found",
        description="Ask the gateways about transactions stuck in pending/processing for "
        "longer than PAYMENTS_RECONCILE_AFTER_S (and about attempts we fell back from), "
        "settle what they confirm, flag contradictions. The workers also do this every "
        "PAYMENTS_RECONCILE_INTERVAL_S.",
    )
    sandbox = sub.add_parser(
        "sandbox",
        help="run only the sandbox gateways",
        description="Serve the simulated PSPs under /sandbox/{gateway_id}/ on their own. "
        "With --workers N, N processes share the port and one state (behaviours, ledger, "
        "PSP reference numbering), so they answer as one PSP.",
    )
    sandbox.add_argument("--host", default="127.0.0.1", help="listen address")
    sandbox.add_argument("--port", type=int, default=8090, help="listen port (default 8090)")
    sandbox.add_argument(
        "--workers",
        type=_positive,
        default=1,
        metavar="N",
        help="processes serving the port (default 1)",
    )
    add_keys_parser(sub)
    add_check_parser(sub)
    add_routing_parser(sub)
    return parser


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _configure_logging(level: str) -> None:
    # Secrets are registered later (serve.prepare), once generated ones are loaded.
    fmt = os.environ.get("PAYMENTS_LOG_FORMAT", "json").strip().lower()
    configure_logging(level, json_logs=fmt != "text")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    _configure_logging(settings.log_level)
    try:
        if args.command == "serve":
            if args.host or args.port:
                settings = settings_for(args.host, args.port)
            if args.server == "granian":
                from entrypoints.serve import serve_granian

                return serve_granian(settings, args.workers)
            from entrypoints.serve import serve

            return serve(settings)
        if args.command == "migrate":
            from entrypoints.serve import run_migrations

            return run_migrations(settings)
        if args.command == "reconcile":
            from entrypoints.serve import run_reconcile

            return run_reconcile(settings)
        if args.command == "worker":
            from entrypoints.serve import run_worker

            return run_worker(settings)
        if args.command == "sandbox":
            from entrypoints.serve import serve_sandbox

            return serve_sandbox(settings, args.host, args.port, args.workers)
        if args.command == "keys":
            return run_keys(args, settings)
        if args.command == "check":
            return run_check(args, settings)
        if args.command == "routing":
            return run_routing(args, settings)
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 1


def settings_for(host: str | None, port: int | None) -> Settings:
    """Re-read settings so derived values (the sandbox URL) follow --host/--port."""
    import os

    env = dict(os.environ)
    if host:
        env["PAYMENTS_HOST"] = host
    if port:
        env["PAYMENTS_PORT"] = str(port)
    return load_settings(env)


if __name__ == "__main__":
    sys.exit(main())
