"""Start-up of the long-running commands: serve, migrate, sandbox."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import signal
import sys

import uvicorn
from litestar import Litestar
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from adapters.postgres.migrator import load_demo_data, migrate
from entrypoints.container import make_container
from entrypoints.embedded import embedded_settings
from entrypoints.http.app import create_app
from entrypoints.http.dependencies import resolve
from entrypoints.http_server import granian_server, uvicorn_config
from entrypoints.redaction import add_secrets, secret_values
from entrypoints.sandbox.callbacks import CallbackSender
from entrypoints.sandbox.psp import Sandbox
from entrypoints.settings import Settings, SettingsError, require_production_secrets
from entrypoints.workers import start_workers, stop_workers

log = logging.getLogger("payments")


def redact(url: str) -> str:
    """The URL without its password, for start-up messages."""
    params = conninfo_to_dict(url)
    if params.get("password"):
        params["password"] = "***"  # noqa: S105
    return make_conninfo(**params)  # type: ignore[arg-type]


def prepare(settings: Settings) -> Settings:
    """Embedded default: start PostgreSQL, migrate, load demo data, fill secrets."""
    if settings.embedded:
        settings = embedded_settings(settings)
        assert settings.database_url is not None
        asyncio.run(migrate(settings.database_url))
        asyncio.run(load_demo_data(settings.database_url))
    else:
        require_production_secrets(settings)
    add_secrets(secret_values(settings))
    return settings


def build_sandbox(settings: Settings) -> tuple[Sandbox, CallbackSender]:
    """Sandbox PSPs that call back to this service (or PAYMENTS_SANDBOX_CALLBACK_URL)."""
    sender = CallbackSender(
        settings.sandbox_callback_url or settings.base_url,
        settings.webhook_secrets,
        merchant_account=settings.soap_merchant_account,
    )
    sandbox = Sandbox(
        {gw.id: gw.format for gw in settings.gateways},
        keys=settings.gateway_keys,  # each gateway serves only our adapters
        # A lost answer ("timeout") also loses the callback: only the
        # reconciler's status inquiry will find the outcome.
        on_new_payment=lambda gw, payment, mode: sender.schedule(
            gw, payment, send=mode != "timeout"
        ),
    )
    return sandbox, sender


def build_app(settings: Settings) -> Litestar:
    if not settings.serve_sandbox:
        return create_app(settings, make_container(settings))
    sandbox, sender = build_sandbox(settings)
    return create_app(settings, make_container(settings), sandbox, on_shutdown=[sender.aclose])


def _banner(settings: Settings) -> None:
    lines = [
        f"payments listening on {settings.base_url}  (OpenAPI: {settings.base_url}/schema/swagger)",
        f"  database: {redact(settings.database_url or '')}"
        + (
            "  [embedded, data in " + str(settings.data_dir.resolve()) + "]"
            if settings.embedded
            else ""
        ),
        "  kafka:    "
        + (settings.kafka_bootstrap_servers or "not configured (events stay in the outbox)"),
        "  gateways: " + ", ".join(f"{g.id} ({g.format}) -> {g.url}" for g in settings.gateways),
    ]
    if settings.embedded:
        lines += [
            f"  client API key: {settings.api_keys[0]}",
            f"  admin API key:  {settings.admin_api_keys[0]}",
            "  gateway merchant keys (PAYMENTS_GATEWAY_KEY_<ID>): under gateway_keys",
            f"  (generated once, kept in {settings.data_dir / 'secrets.json'})",
        ]
    print("\n".join(lines), file=sys.stderr, flush=True)


def serve(settings: Settings) -> int:
    settings = prepare(settings)
    app = build_app(settings)
    _banner(settings)
    config = uvicorn_config(app, settings)
    # uvicorn re-raises SIGTERM/SIGINT after its graceful shutdown; turn that into
    # a normal exit so atexit handlers run and the embedded PostgreSQL stops.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    signal.signal(signal.SIGINT, _exit_cleanly)
    uvicorn.Server(config).run()
    return 0


def serve_granian(settings: Settings, workers: int) -> int:
    """Production, several processes: granian runs ``entrypoints.asgi:create`` in each."""
    if settings.embedded:
        raise SettingsError(
            "--server granian needs PAYMENTS_DATABASE_URL (each worker process builds the "
            "app from the environment; the embedded default is one process: omit --server)"
        )
    _banner(prepare(settings))
    granian_server(settings, workers).serve()
    return 0


def _exit_cleanly(signum: int, _frame: object) -> None:
    raise SystemExit(0)


def run_worker(settings: Settings) -> int:
    # This process is off the API already: deliveries run on its own loop.
    settings = dataclasses.replace(prepare(settings), webhook_delivery="inline")
    print(
        f"payments worker: database {redact(settings.database_url or '')}, kafka "
        f"{settings.kafka_bootstrap_servers or 'not configured (in-process dispatch)'}",
        file=sys.stderr,
        flush=True,
    )

    async def main() -> None:
        container = make_container(settings)
        started = container.init_resources()
        if started is not None:
            await started
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        workers = await start_workers(container, settings)
        try:
            await stop.wait()
        finally:
            await stop_workers(workers)
            stopped = container.shutdown_resources()
            if stopped is not None:
                await stopped

    asyncio.run(main())
    return 0


def run_reconcile(settings: Settings) -> int:
    """One reconciliation pass (the sandbox gateways must be reachable to be asked)."""
    import json

    settings = prepare(settings)

    async def main() -> dict[str, object]:
        container = make_container(settings)
        started = container.init_resources()
        if started is not None:
            await started
        try:
            reconcile = await resolve(container.reconcile)
            return dataclasses.asdict(await reconcile.execute())
        finally:
            stopped = container.shutdown_resources()
            if stopped is not None:
                await stopped

    print(json.dumps(asyncio.run(main()), indent=2))
    return 0


def run_migrations(settings: Settings) -> int:
    if settings.embedded:
        settings = embedded_settings(settings)
    if settings.database_url is None:
        raise SettingsError("PAYMENTS_DATABASE_URL is not set")
    applied = asyncio.run(migrate(settings.database_url))
    print(f"applied {len(applied)} migration(s): {', '.join(applied) or 'none pending'}")
    return 0


def serve_sandbox(settings: Settings, host: str, port: int, workers: int = 1) -> int:
    """Only the sandbox PSPs (e.g. on another port, to call the API over the network).

    ``workers`` processes share the port and one state file, so they answer
    as one PSP (``entrypoints.sandbox.server``).
    """
    from entrypoints.sandbox.server import run_sandbox

    return run_sandbox(settings, host, port, workers)
