"""``payments keys generate | rotate | status | retire``: parse, wire, print.

The rules are in application/encryption_keys/ (rotate, status, retire);
where keys come from, and the two shapes of rotation, entrypoints/key_config.py.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from adapters.crypto.keyring import Keyring, KeyringError
from application.encryption_keys.retire import RetireKey, Retirement
from application.encryption_keys.rotate import RotateKeys
from application.encryption_keys.status import GetKeyStatus
from domain.errors import PaymentError
from entrypoints.embedded import SECRETS_FILE
from entrypoints.key_config import KeyTarget
from entrypoints.key_output import RichRotationProgress, print_rotation, print_status
from entrypoints.settings import Settings

if TYPE_CHECKING:
    from entrypoints.container import Container


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
    target = KeyTarget.of(settings)
    try:
        if command == "rotate":
            if args.batch_size < 1:
                print("error: --batch-size must be at least 1", file=sys.stderr)
                return 2
            if args.resume and not target.editable:
                print(
                    "note: --resume only matters on the embedded default; ignored", file=sys.stderr
                )
            return _run(
                target, lambda container: _rotate(target, container, args.batch_size, args.resume)
            )
        if command == "status":
            return _run(target, lambda container: _status(target, container))
        if command == "retire":
            return _run(target, lambda container: _retire(target, container, args.key_id))
    except PaymentError as exc:  # bad key config, undecryptable row, database down
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 2


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


def _run(target: KeyTarget, command: Callable[[Container], Awaitable[int]]) -> int:
    # Imported here: the other commands need not load every adapter.
    from entrypoints.container import make_container

    async def main() -> int:
        # A key command needs one connection at a time, not the service's pool.
        container = make_container(target.settings.with_(db_pool_min=1, db_pool_max=2))
        try:
            return await command(container)
        finally:
            stopped = container.shutdown_resources()
            if stopped is not None:
                await stopped

    return asyncio.run(main())


async def _built(value: Any) -> Any:
    # Providers that depend on the (async) pool resource answer an awaitable.
    return await value if inspect.isawaitable(value) else value


async def _rotate(target: KeyTarget, container: Container, batch_size: int, resume: bool) -> int:
    progress = RichRotationProgress(target.where)
    rotation: RotateKeys = await _built(
        container.rotate_keys(keys=target, progress=progress, ciphertexts__keyring=target.keyring)
    )
    print_rotation(
        await rotation.execute(batch_size=batch_size, resume=resume, actor="cli"), target
    )
    return 0


async def _status(target: KeyTarget, container: Container) -> int:
    status: GetKeyStatus = await _built(
        container.key_status(keys=target, ciphertexts__keyring=target.keyring)
    )
    usage = await status.execute()
    print_status(usage, target)
    return 1 if usage.missing else 0


async def _retire(target: KeyTarget, container: Container, key_id: str) -> int:
    retire: RetireKey = await _built(
        container.retire_key(keys=target, ciphertexts__keyring=target.keyring)
    )
    result = await retire.execute(key_id)
    match result.outcome:
        case Retirement.PRIMARY:
            print(
                f"refused: {key_id} is the primary key; rotate to a new one first", file=sys.stderr
            )
            return 1
        case Retirement.IN_USE:
            print(
                f"refused: {result.in_use} ciphertext(s) still use {key_id}; "
                "run `payments keys rotate` and retry",
                file=sys.stderr,
            )
            return 1
        case Retirement.NOT_CONFIGURED:
            print(f"{key_id} is not configured in {target.where}; nothing to do")
        case Retirement.SAFE_TO_DROP:
            print(
                f"safe: no ciphertext uses {key_id}; drop it from PAYMENTS_ENCRYPTION_KEYS "
                f"(keeping {', '.join(result.remaining)}) on every process"
            )
        case Retirement.RETIRED:
            print(f"retired {key_id}: removed from {target.where}")
    return 0
