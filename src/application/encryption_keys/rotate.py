"""Rotate the encryption keys: re-encrypt every stored ciphertext under the primary key.

Where the keys are editable (the embedded default's secrets.json) the
rotation first adds a new primary key; in production the operator deployed
it to every process first. Re-encryption runs in short batches while the
service keeps serving and is safe to interrupt and rerun. The rotation is
recorded in the audit log when the database has one.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from application.encryption_keys.ports import (
    AuditLogs,
    ConfiguredKeys,
    KeyUsage,
    RotationProgress,
    StoredCiphertexts,
)
from domain.errors import PaymentError


class KeysMissing(PaymentError):
    """Stored ciphertexts use keys that are not configured: rotating would stop half-way."""

    code = "keys-missing"


@dataclass(frozen=True, slots=True)
class RotationReport:
    usage: KeyUsage  # afterwards
    rewritten: int
    elapsed_s: float  # of the main pass
    audited: bool  # False: the database has no audit table


class RotateKeys:
    """Re-encrypt everything under the primary key, adding a new one where keys are editable."""

    def __init__(
        self,
        ciphertexts: StoredCiphertexts,
        keys: ConfiguredKeys,
        audit: AuditLogs,
        progress: RotationProgress,
        *,
        refresh_s: float,
    ) -> None:
        self._ciphertexts = ciphertexts
        self._keys = keys
        self._audit = audit
        self._progress = progress
        # How long a running process may still encrypt under the old primary.
        self._refresh_s = refresh_s

    async def execute(self, *, batch_size: int, resume: bool, actor: str) -> RotationReport:
        """Rotate (``resume``: add no key, finish an interrupted rotation).

        Raises KeysMissing, before changing anything, when a key that
        ciphertexts use is not configured.
        """
        before = await self._ciphertexts.key_usage()
        missing = KeyUsage(self._keys.key_ids(), before).missing
        if missing:
            raise KeysMissing(
                f"ciphertexts use key(s) {', '.join(missing)} not in {self._keys.where}; "
                "add them back before rotating"
            )
        added_at: float | None = None
        if self._keys.editable and not resume:
            added = self._keys.add_primary()
            added_at = time.monotonic()
            self._progress.key_added(added)
        key_ids = self._keys.key_ids()
        primary = key_ids[0]
        started = time.monotonic()
        with self._progress.reencrypting(primary) as on_progress:
            rewritten = await self._ciphertexts.reencrypt(
                batch_size=batch_size, on_progress=on_progress
            )
        elapsed = time.monotonic() - started
        if added_at is not None:
            # A process started before the rotation may still encrypt a few
            # rows under the old key until its keyring refreshes (at most
            # refresh_s): sweep once more after every such process switched.
            await asyncio.sleep(max(0.0, self._refresh_s + 0.5 - (time.monotonic() - added_at)))
            rewritten += await self._ciphertexts.reencrypt(batch_size=batch_size)
        after = KeyUsage(key_ids, await self._ciphertexts.key_usage())
        old = sorted(k for k in before if k != primary)
        audited = await self._record(actor, primary, rewritten, old)
        return RotationReport(after, rewritten, elapsed, audited)

    async def _record(self, actor: str, primary: str, rewritten: int, old: list[str]) -> bool:
        async with self._audit.open() as audit:
            if audit is None:
                return False
            details = {"rewritten": rewritten, "from": old}
            await audit.record(actor, "keys.rotate", "keyring", primary, details)
        return True
