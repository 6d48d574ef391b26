"""The service as an importable ASGI application, for production servers.

``payments serve`` is the one-process default (embedded PostgreSQL, sandbox,
uvicorn). Behind a multi-process server each worker imports the app itself,
so this module builds it from the environment, in production mode only: a
worker must never start an embedded PostgreSQL of its own, so
``PAYMENTS_DATABASE_URL`` is required (with the production secrets it
implies), and migrations are a separate step (``payments migrate``).

Two ways in, both building nothing at import time::

    # a factory, called once in each worker (recommended)
    granian --interface asgi --workers 2 --factory entrypoints.asgi:create
    uvicorn --workers 2 --factory entrypoints.asgi:create

    # a module-level app that builds itself at its first lifespan startup
    granian --interface asgi --workers 2 entrypoints.asgi:app

Run from the project (``uv run granian …``) so the ``src`` packages are
importable. Logging is configured here, as the CLI does for ``serve``: JSON
lines on stderr with redaction (``PAYMENTS_LOG_FORMAT=text`` for humans).
The server must run the ASGI lifespan (granian and uvicorn do by default):
the database pool, the gateway clients and the background workers start there.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from litestar import Litestar
from litestar.types import Receive, Scope, Send

from entrypoints.logging_setup import configure_logging
from entrypoints.serve import build_app, prepare
from entrypoints.settings import SettingsError, load_settings


def create(env: Mapping[str, str] | None = None) -> Litestar:
    """Build the app from ``PAYMENTS_*`` variables (``os.environ`` by default).

    Raises SettingsError when ``PAYMENTS_DATABASE_URL`` or a production secret
    is missing, so the worker fails at start-up with the reason.
    """
    env = os.environ if env is None else env
    settings = load_settings(env)
    fmt = env.get("PAYMENTS_LOG_FORMAT", "json").strip().lower()
    configure_logging(settings.log_level, json_logs=fmt != "text")
    if settings.embedded:
        raise SettingsError(
            "PAYMENTS_DATABASE_URL is not set: the ASGI app runs in production mode only "
            "(use `payments serve` for the embedded default)"
        )
    # prepare() checks the production secrets and registers them for redaction.
    return build_app(prepare(settings))


class LazyApp:
    """An ASGI app that builds the real one from the environment on first use.

    The first call is normally the lifespan startup, which then goes to the
    real app like every later call. A failed build is raised again on every
    call, so a misconfigured worker never serves requests.
    """

    def __init__(self) -> None:
        self._app: Litestar | None = None

    def build(self) -> Litestar:
        if self._app is None:
            self._app = create()
        return self._app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.build()(scope, receive, send)


app = LazyApp()
