"""Encryption keys: ``payments keys generate | rotate | status | retire`` and the keyring wiring.

Two shapes of rotation:

* embedded default (no PAYMENTS_DATABASE_URL, keys in the data dir's
  secrets.json): ``keys rotate`` adds a new primary key to secrets.json and
  re-encrypts everything under it. A ``serve`` process that is already
  running reloads secrets.json (``build_keyring``) when it meets the new key
  id, and picks up the new primary within ``KEY_REFRESH_S``; then
  ``keys retire OLD`` drops the old key.
* production (keys in PAYMENTS_ENCRYPTION_KEYS): the operator makes a key
  with ``keys generate``, deploys it to every process (first as a second key,
  then first, so no process ever meets a key it lacks), then runs
  ``keys rotate`` with the same environment, which re-encrypts everything
  under that primary; ``keys status`` / ``keys retire`` say when the old key
  may leave PAYMENTS_ENCRYPTION_KEYS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from psycopg_pool import AsyncConnectionPool

from adapters.crypto.keyring import Keyring, KeyringError
from adapters.postgres.pool import open_pool
from adapters.postgres.reencrypt import key_usage, reencrypt
from domain.errors import PaymentError
from entrypoints.embedded import (
    SECRETS_FILE,
    embedded_keyring_loader,
    embedded_settings,
    retire_embedded_key,
    rotate_embedded_key,
    stored_encryption_keys,
)
from entrypoints.settings import Settings, SettingsError

# How often (at most) a process on the embedded default re-reads secrets.json
# before encrypting, to switch to a primary key another process added.
KEY_REFRESH_S = 2.0

AUDIT_TABLE_EXISTS = "SELECT to_regclass('audit_log') IS NOT NULL"
AUDIT_INSERT = """
INSERT INTO audit_log (actor, action, subject_type, subject_id, details)
VALUES ('cli', 'keys.rotate', 'keyring', %(subject_id)s, %(details)s::jsonb)
"""


def build_keyring(settings: Settings) -> Keyring:
    """The service's keyring; on the embedded default it follows secrets.json.

    The reload source is attached only when the configured keys are the ones
    in secrets.json: keys set through PAYMENTS_ENCRYPTION_KEYS are never mixed
    with the file's.
    """
    keys = Keyring.parse_keys(settings.encryption_keys)
    if settings.embedded and _keys_from_data_dir(settings.data_dir, keys):
        return Keyring(
            keys,
            embedded_keyring_loader(settings.data_dir),
            refresh_interval_s=KEY_REFRESH_S,
        )
    return Keyring(keys)


def _keys_from_data_dir(data_dir: Path, keys: list[tuple[str, bytes]]) -> bool:
    try:
        stored = stored_encryption_keys(data_dir)
        # A subset, not equality: a rotation may have added a key since start-up.
        return stored is not None and set(keys) <= set(Keyring.parse_keys(stored))
    except (OSError, ValueError, KeyringError):
        return False


def add_keys_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``payments keys ...`` on the top-level sub-command parser."""
    keys = sub.add_parser(
        "keys",
        help="encryption keys for data at rest: generate, rotate, status, retire",
        description="Manage the AES-GCM keys that encrypt stored payout destinations and "
        "callback bodies. On the embedded default the keys live in PAYMENTS_DATA_DIR/"
        f"{SECRETS_FILE}; in production in PAYMENTS_ENCRYPTION_KEYS (first key = primary).",
    )
    actions = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    rotate = actions.add_parser(
        "rotate",
        help="re-encrypt every stored ciphertext under the primary key (embedded: a new one)",
        description="Embedded default: add a new primary key to the data dir's secrets and "
        "re-encrypt everything under it; a running `payments serve` picks the new key up. "
        "Production: re-encrypt everything not under the first key of "
        "PAYMENTS_ENCRYPTION_KEYS (deploy it as the first key to every process first). "
        "Runs in short batches while the service keeps serving; safe to interrupt and rerun.",
    )
    rotate.add_argument(
        "--batch-size",
        type=int,
        default=200,
        help="rows per database transaction (default 200)",
    )
    rotate.add_argument(
        "--resume",
        action="store_true",
        help="embedded: do not add a key, finish re-encrypting under the current primary "
        "(after an interrupted rotation)",
    )
    actions.add_parser(
        "status",
        help="ciphertexts per key id, removable keys, keys in use but missing",
        description="Count stored ciphertexts per key id and compare with the configured "
        "keys: which are unused (removable) and which are used but not configured "
        "(those rows cannot be read). Exits 1 in the latter case.",
    )
    generate = actions.add_parser(
        "generate",
        help="print a new id:base64key for PAYMENTS_ENCRYPTION_KEYS",
        description="Print a fresh key spec. Production rotation: add it to "
        "PAYMENTS_ENCRYPTION_KEYS on every process, then make it the first key, then run "
        "`payments keys rotate`.",
    )
    generate.add_argument("--id", dest="key_id", help="key id (default: random k<hex>)")
    retire = actions.add_parser(
        "retire",
        help="drop an old key once no ciphertext uses it",
        description="Embedded default: remove KEY_ID from the data dir's secrets, only if no "
        "stored ciphertext uses it and it is not the primary. Production: say whether "
        "KEY_ID may be dropped from PAYMENTS_ENCRYPTION_KEYS.",
    )
    retire.add_argument("key_id", metavar="KEY_ID", help="the key id to retire")


def run_keys(args: argparse.Namespace, settings: Settings) -> int:
    """Run ``payments keys <action>``; returns the exit code."""
    command: str = args.keys_command
    if command == "generate":
        return _generate(args.key_id)
    target = _Target.of(settings)
    try:
        if command == "rotate":
            return asyncio.run(_rotate(target, args.batch_size, resume=args.resume))
        if command == "status":
            return asyncio.run(_status(target))
        if command == "retire":
            return asyncio.run(_retire(target, args.key_id))
    except PaymentError as exc:  # bad key config, undecryptable row, database down
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 2


@dataclass(frozen=True, slots=True)
class _Target:
    """The database and where its keys are kept."""

    database_url: str
    data_dir: Path | None  # set when the keys live in secrets.json (embedded default)
    encryption_keys: str

    @classmethod
    def of(cls, settings: Settings) -> _Target:
        # Keys set in the environment win even on the embedded default, and
        # then only the environment can change them.
        keys_in_file = settings.embedded and not settings.encryption_keys
        if settings.embedded:
            settings = embedded_settings(settings)  # starts (or reuses) the embedded server
        if not settings.database_url:
            raise SettingsError("PAYMENTS_DATABASE_URL is not set")
        if not settings.encryption_keys:
            raise SettingsError("PAYMENTS_ENCRYPTION_KEYS is not set")
        return cls(
            settings.database_url,
            settings.data_dir if keys_in_file else None,
            settings.encryption_keys,
        )

    def keyring(self) -> Keyring:
        """The keys as configured now (re-read: a rotation may just have changed them)."""
        if self.data_dir is None:
            return Keyring.parse(self.encryption_keys)
        return Keyring.parse(stored_encryption_keys(self.data_dir))

    @property
    def where(self) -> str:
        if self.data_dir is None:
            return "PAYMENTS_ENCRYPTION_KEYS"
        return str(self.data_dir / SECRETS_FILE)


def _generate(key_id: str | None) -> int:
    try:
        spec = Keyring.new_key_spec(key_id)
        Keyring.parse(spec)  # validates a given id
    except KeyringError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(spec)
    print(
        "Put it first in PAYMENTS_ENCRYPTION_KEYS, keeping the current keys after it, on every "
        "process (to avoid any process meeting a key it lacks: deploy it second, then first), "
        "then run `payments keys rotate`.",
        file=sys.stderr,
    )
    return 0


async def _open(target: _Target) -> AsyncConnectionPool:
    return await open_pool(target.database_url, min_size=1, max_size=2)


async def _rotate(target: _Target, batch_size: int, *, resume: bool) -> int:
    if batch_size < 1:
        print("error: --batch-size must be at least 1", file=sys.stderr)
        return 2
    if resume and target.data_dir is None:
        print("note: --resume only matters on the embedded default; ignored", file=sys.stderr)
    pool = await _open(target)
    try:
        before = await key_usage(pool)
        keyring = target.keyring()
        # Refuse before changing anything: those rows would stop the run half-way.
        missing = sorted(set(before) - set(keyring.key_ids))
        if missing:
            print(
                f"error: ciphertexts use key(s) {', '.join(missing)} not in {target.where}; "
                "add them back before rotating",
                file=sys.stderr,
            )
            return 1
        added_at: float | None = None
        if target.data_dir is not None and not resume:
            new_id = rotate_embedded_key(target.data_dir)
            added_at = time.monotonic()
            keyring = target.keyring()
            print(f"added key {new_id} as the primary in {target.where}", file=sys.stderr)
        primary = keyring.primary_key_id
        started = time.monotonic()
        rewritten = await _reencrypt_with_progress(pool, keyring, batch_size)
        elapsed = time.monotonic() - started
        if added_at is not None:
            # A `serve` process started before the rotation may still encrypt a
            # few rows under the old key until its keyring refreshes (at most
            # KEY_REFRESH_S): sweep once more after every such process switched.
            await asyncio.sleep(max(0.0, KEY_REFRESH_S + 0.5 - (time.monotonic() - added_at)))
            rewritten += await reencrypt(pool, keyring, batch_size=batch_size)
        after = await key_usage(pool)
        old_ids = sorted(k for k in before if k != primary)
        audited = await _audit(pool, primary, rewritten, old_ids)
    finally:
        await pool.close()
    print(f"primary key: {primary}")
    print(f"re-encrypted: {rewritten} ciphertext(s) in {elapsed:.1f} s")
    _print_usage(after)
    leftover = {k: n for k, n in after.items() if k != primary}
    if leftover:
        print(
            "still in use: "
            + ", ".join(f"{k} ({n})" for k, n in leftover.items())
            + " (rows locked or written meanwhile; rerun"
            + (" with --resume)" if target.data_dir is not None else ")")
        )
    _print_removable(keyring.key_ids, primary, after, target)
    if not audited:
        print("(no audit_log table: rotation not recorded)", file=sys.stderr)
    return 0


async def _reencrypt_with_progress(
    pool: AsyncConnectionPool, keyring: Keyring, batch_size: int
) -> int:
    # Imported here: only this command draws a progress bar.
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn(f"re-encrypting under {keyring.primary_key_id}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    # On stderr, so stdout carries only the summary.
    with Progress(*columns, console=Console(stderr=True)) as progress:
        task = progress.add_task("re-encrypt", total=None)

        def on_progress(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        return await reencrypt(pool, keyring, batch_size=batch_size, on_progress=on_progress)


async def _audit(pool: AsyncConnectionPool, primary: str, rewritten: int, old: list[str]) -> bool:
    """Record the rotation in audit_log when that table exists; True if recorded."""
    async with pool.connection() as conn:
        cur = await conn.execute(AUDIT_TABLE_EXISTS)
        row = await cur.fetchone()
        if not row or not row[0]:
            return False
        details = json.dumps({"rewritten": rewritten, "from": old})
        await conn.execute(AUDIT_INSERT, {"subject_id": primary, "details": details})
    return True


async def _status(target: _Target) -> int:
    keyring = target.keyring()
    pool = await _open(target)
    try:
        usage = await key_usage(pool)
    finally:
        await pool.close()
    primary = keyring.primary_key_id
    print(f"keys from:   {target.where}")
    print(f"primary key: {primary}")
    _print_usage(usage)
    _print_removable(keyring.key_ids, primary, usage, target)
    missing = sorted(set(usage) - set(keyring.key_ids))
    if missing:
        print(
            "DANGER: in use but not configured (those rows cannot be decrypted): "
            + ", ".join(f"{k} ({usage[k]})" for k in missing)
        )
        return 1
    return 0


async def _retire(target: _Target, key_id: str) -> int:
    keyring = target.keyring()
    pool = await _open(target)
    try:
        in_use = (await key_usage(pool)).get(key_id, 0)
    finally:
        await pool.close()
    if key_id == keyring.primary_key_id:
        print(f"refused: {key_id} is the primary key; rotate to a new one first", file=sys.stderr)
        return 1
    if in_use:
        print(
            f"refused: {in_use} ciphertext(s) still use {key_id}; run `payments keys rotate` "
            "and retry",
            file=sys.stderr,
        )
        return 1
    if key_id not in keyring.key_ids:
        print(f"{key_id} is not configured in {target.where}; nothing to do")
        return 0
    if target.data_dir is None:
        remaining = [k for k in keyring.key_ids if k != key_id]
        print(
            f"safe: no ciphertext uses {key_id}; drop it from PAYMENTS_ENCRYPTION_KEYS "
            f"(keeping {', '.join(remaining)}) on every process"
        )
        return 0
    # No stored row needs it; processes that already hold it keep it in memory.
    retire_embedded_key(target.data_dir, key_id)
    print(f"retired {key_id}: removed from {target.where}")
    return 0


def _print_usage(usage: dict[str, int]) -> None:
    print("ciphertexts per key:")
    if not usage:
        print("  (none stored)")
    for key_id, count in usage.items():
        print(f"  {key_id}: {count}")


def _print_removable(
    configured: list[str], primary: str, usage: dict[str, int], target: _Target
) -> None:
    removable = [k for k in configured if k != primary and not usage.get(k)]
    if not removable:
        print("removable keys: none")
        return
    how = (
        "`payments keys retire KEY_ID`"
        if target.data_dir is not None
        else "drop from PAYMENTS_ENCRYPTION_KEYS"
    )
    print(f"removable keys: {', '.join(removable)} ({how})")
