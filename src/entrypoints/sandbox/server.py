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

Each gateway serves only its merchant (``merchant.py``): the keys come from
``PAYMENTS_GATEWAY_KEY_<ID>``, or on the embedded default from the secrets
file the parent creates before the workers start, so every worker enforces
the same ones; without a key for each gateway the sandbox does not start.

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
from litestar.datastructures import MutableScopeHeaders, State
from litestar.types import Message, Scope

from entrypoints.embedded import SECRETS_FILE, with_stored_secrets
from entrypoints.http.auth import ApiKeys, admin_guard
from entrypoints.http.problems import EXCEPTION_HANDLERS
from entrypoints.logging_setup import configure_logging
from entrypoints.sandbox.callbacks import CallbackSender
from entrypoints.sandbox.families import sandbox_routes
from entrypoints.sandbox.shared import SharedSandbox, create_state
from entrypoints.settings import Settings, SettingsError, gateway_key_env, load_settings

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
    if settings.embedded:
        # Generates the secrets file on first use: here, before workers read it.
        settings = with_stored_secrets(settings)
    _require_merchant_keys(settings)
    # uvicorn re-raises the signal once it has stopped: exit through the
    # ``with`` below instead, so the state directory goes too.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    signal.signal(signal.SIGINT, _exit_cleanly)
    with tempfile.TemporaryDirectory(prefix="payments-sandbox-") as state_dir:
        state = Path(state_dir) / "state.sqlite3"
        create_state(state, [g.id for g in settings.gateways])
        os.environ[STATE_ENV] = str(state)
        target = settings.sandbox_callback_url or settings.base_url
        print(
            f"sandbox gateways on http://{host}:{port}/sandbox/{{gateway_id}}"
            f" ({workers} worker(s), state in {state_dir};"
            f" callbacks to {target}/callback/{{gateway_id}};"
            f" merchant keys from {_key_source(settings)})",
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
        settings.sandbox_callback_url or settings.base_url,
        settings.webhook_secrets,
        merchant_account=settings.soap_merchant_account,
    )
    sandbox = SharedSandbox(
        Path(state),
        {g.id: g.format for g in settings.gateways},
        keys=settings.gateway_keys,
        # A lost answer ("timeout") also loses the callback: only the
        # reconciler's status inquiry will find the outcome.
        on_new_payment=lambda gw, payment, mode: sender.schedule(
            gw, payment, send=mode != "timeout"
        ),
    )
    return Litestar(
        route_handlers=sandbox_routes(sandbox, admin_guard),
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        state=State({"api_keys": ApiKeys((), settings.admin_api_keys)}),
        before_send=[_name_the_worker],
        on_shutdown=[sender.aclose, sandbox.close],
        logging_config=None,
    )


async def _name_the_worker(message: Message, _scope: Scope) -> None:
    # A hook rather than response_headers: refusals raised by guards get it too.
    if message["type"] == "http.response.start":
        MutableScopeHeaders.from_message(message)[WORKER_HEADER] = str(os.getpid())


def _require_merchant_keys(settings: Settings) -> None:
    """A gateway without a key would refuse every call: say so at start-up instead."""
    missing = [
        gateway_key_env(g.id) for g in settings.gateways if not settings.gateway_keys.get(g.id)
    ]
    if missing:
        raise SettingsError(f"missing merchant credentials: {', '.join(missing)}")


def _key_source(settings: Settings) -> str:
    if settings.embedded:
        return f"{settings.data_dir / SECRETS_FILE} (gateway_keys) unless PAYMENTS_GATEWAY_KEY_<ID>"
    return "PAYMENTS_GATEWAY_KEY_<ID>"


def _exit_cleanly(signum: int, _frame: object) -> None:
    raise SystemExit(0)
