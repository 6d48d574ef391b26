"""``payments sandbox``: the sandbox PSPs on their own, in one or several processes.

One Python process tops out near 300 deposits/s in the benchmark, so
``--workers N`` lets N processes accept on the same host:port. The parent
creates the shared state (``shared.py``) in a temporary directory, then hands
uvicorn the import string of :func:`create_app`: uvicorn binds the socket once
and serves it in this process (one worker) or in N spawned children that
accept from that socket (its supervisor also replaces a worker that dies).
Spawned children get no arguments, so they find the state file through
:data:`STATE_ENV`; they stay children of the parent, so the CPU of the
sandbox is that of one process tree (the benchmark measures it that way).

Every response names the process that served it (:data:`WORKER_HEADER`).
SIGTERM/SIGINT: the workers finish their requests for up to ``GRACE_S``
(a ``timeout`` gateway holds requests for a minute), then the parent removes
the state directory and exits 0.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
from pathlib import Path

import uvicorn
from litestar import Litestar
from litestar.datastructures import ResponseHeader, State

from entrypoints.embedded import with_stored_secrets
from entrypoints.http.auth import ApiKeys, admin_guard
from entrypoints.http.problems import EXCEPTION_HANDLERS
from entrypoints.logging_setup import configure_logging
from entrypoints.sandbox.app import sandbox_controller
from entrypoints.sandbox.callbacks import CallbackSender
from entrypoints.sandbox.shared import SharedSandbox, create_state
from entrypoints.sandbox.soap import soap_controller
from entrypoints.settings import Settings, SettingsError, load_settings

STATE_ENV = "PAYMENTS_SANDBOX_STATE"
WORKER_HEADER = "X-Sandbox-Worker"
GRACE_S = 5
_FACTORY = f"{__name__}:create_app"


def run_sandbox(settings: Settings, host: str, port: int, workers: int = 1) -> int:
    """Serve the sandbox with ``workers`` processes on one port until SIGTERM/SIGINT.

    Workers build their app from the environment, as ``entrypoints.asgi`` does,
    so ``settings`` only decides what the parent prepares and prints.
    """
    if workers < 1:
        raise SettingsError("--workers must be at least 1")
    # uvicorn re-raises the signal once it has stopped: exit through the
    # ``with`` below instead, so the state directory goes too.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    signal.signal(signal.SIGINT, _exit_cleanly)
    if settings.embedded:
        # Generates the secrets file on first use: here, before workers read it.
        settings = with_stored_secrets(settings)
    with tempfile.TemporaryDirectory(prefix="payments-sandbox-") as state_dir:
        state = Path(state_dir) / "state.sqlite3"
        create_state(state, [g.id for g in settings.gateways])
        os.environ[STATE_ENV] = str(state)
        target = settings.sandbox_callback_url or settings.base_url
        print(
            f"sandbox gateways on http://{host}:{port}/sandbox/{{gateway_id}}"
            f" ({workers} worker(s), state in {state_dir};"
            f" callbacks to {target}/callback/{{gateway_id}})",
            file=sys.stderr,
            flush=True,
        )
        uvicorn.run(
            _FACTORY,
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=settings.log_level.lower(),
            access_log=False,
            log_config=None,  # keep our JSON, redacting handlers
            timeout_graceful_shutdown=GRACE_S,
        )
    return 0


def create_app() -> Litestar:
    """One worker's app: the sandbox controllers over the shared state file."""
    settings = load_settings()
    fmt = os.environ.get("PAYMENTS_LOG_FORMAT", "json").strip().lower()
    configure_logging(settings.log_level, json_logs=fmt != "text")
    if settings.embedded:
        settings = with_stored_secrets(settings)
    state = os.environ.get(STATE_ENV)
    if not state:
        raise SettingsError(f"{STATE_ENV} is not set: start the sandbox with `payments sandbox`")
    sender = CallbackSender(
        settings.sandbox_callback_url or settings.base_url, settings.webhook_secrets
    )
    sandbox = SharedSandbox(
        Path(state),
        {g.id: g.format for g in settings.gateways},
        # A lost answer ("timeout") also loses the callback: only the
        # reconciler's status inquiry will find the outcome.
        on_new_payment=lambda gw, payment, mode: sender.schedule(
            gw, payment, send=mode != "timeout"
        ),
    )
    return Litestar(
        route_handlers=[sandbox_controller(sandbox, admin_guard), soap_controller(sandbox)],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        state=State({"api_keys": ApiKeys((), settings.admin_api_keys)}),
        response_headers=[ResponseHeader(name=WORKER_HEADER, value=str(os.getpid()))],
        on_shutdown=[sender.aclose, sandbox.close],
        logging_config=None,
    )


def _exit_cleanly(signum: int, _frame: object) -> None:
    raise SystemExit(0)
