"""Start-up of the long-running commands: serve, migrate, sandbox."""

from __future__ import annotations

import asyncio
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
from entrypoints.http.auth import admin_guard
from entrypoints.sandbox.app import sandbox_controller
from entrypoints.sandbox.psp import Sandbox
from entrypoints.sandbox.soap import soap_controller
from entrypoints.settings import Settings, SettingsError, require_production_secrets

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
    return settings


def build_app(settings: Settings) -> Litestar:
    sandbox = None
    if settings.serve_sandbox:
        sandbox = Sandbox({gw.id: gw.format for gw in settings.gateways})
    return create_app(settings, make_container(settings), sandbox)


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
            f"  (generated once, kept in {settings.data_dir / 'secrets.json'})",
        ]
    print("\n".join(lines), file=sys.stderr, flush=True)


def serve(settings: Settings) -> int:
    settings = prepare(settings)
    app = build_app(settings)
    _banner(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=20,
    )
    # uvicorn re-raises SIGTERM/SIGINT after its graceful shutdown; turn that into
    # a normal exit so atexit handlers run and the embedded PostgreSQL stops.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    signal.signal(signal.SIGINT, _exit_cleanly)
    uvicorn.Server(config).run()
    return 0


def _exit_cleanly(signum: int, _frame: object) -> None:
    raise SystemExit(0)


def run_migrations(settings: Settings) -> int:
    if settings.embedded:
        settings = embedded_settings(settings)
    if settings.database_url is None:
        raise SettingsError("PAYMENTS_DATABASE_URL is not set")
    applied = asyncio.run(migrate(settings.database_url))
    print(f"applied {len(applied)} migration(s): {', '.join(applied) or 'none pending'}")
    return 0


def serve_sandbox(settings: Settings, host: str, port: int) -> int:
    from litestar import Litestar as App
    from litestar.datastructures import State

    from entrypoints.http.auth import ApiKeys
    from entrypoints.http.problems import EXCEPTION_HANDLERS

    if settings.embedded:
        settings = settings.with_(
            admin_api_keys=settings.admin_api_keys or tuple(embedded_settings_keys(settings)),
        )
    sandbox = Sandbox({gw.id: gw.format for gw in settings.gateways})
    app = App(
        route_handlers=[sandbox_controller(sandbox, admin_guard), soap_controller(sandbox)],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        state=State({"api_keys": ApiKeys((), settings.admin_api_keys)}),
    )
    print(f"sandbox gateways on http://{host}:{port}/sandbox/{{gateway_id}}", file=sys.stderr)
    uvicorn.run(app, host=host, port=port, log_level=settings.log_level.lower(), access_log=False)
    return 0


def embedded_settings_keys(settings: Settings) -> list[str]:
    from entrypoints.embedded import load_or_create_secrets

    return list(load_or_create_secrets(settings.data_dir)["admin_api_keys"])
