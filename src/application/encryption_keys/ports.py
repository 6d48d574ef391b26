"""Ports of the key commands: where the keys are configured, where ciphertexts are stored.

The keyring itself never crosses into the application: the use cases see key
ids only, and the ciphertext store re-encrypts under the keys as configured.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from application.ports import AuditLog

# ``(done, total)`` after each batch; ``total`` may grow while the service writes.
ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class KeyUsage:
    """Stored ciphertexts per key id, against the keys configured."""

    key_ids: list[str]  # configured, primary first
    counts: dict[str, int]  # ciphertexts per key id, sorted by id

    @property
    def primary(self) -> str:
        return self.key_ids[0]

    @property
    def removable(self) -> list[str]:
        """Configured keys no ciphertext needs (never the primary)."""
        return [k for k in self.key_ids if k != self.primary and not self.counts.get(k)]

    @property
    def missing(self) -> list[str]:
        """Key ids ciphertexts use that are not configured: those rows cannot be read."""
        return sorted(set(self.counts) - set(self.key_ids))

    @property
    def not_primary(self) -> dict[str, int]:
        """Ciphertexts under another key than the primary."""
        return {k: n for k, n in self.counts.items() if k != self.primary}


class ConfiguredKeys(Protocol):
    """The configured encryption keys (the data dir's secrets.json or the environment)."""

    @property
    def where(self) -> str:
        """Where the keys are kept, as operators know it (for messages)."""
        ...

    @property
    def editable(self) -> bool:
        """The keys are a file the key commands may change (the embedded default)."""
        ...

    def key_ids(self) -> list[str]:
        """The configured key ids, primary first, read now (a rotation changes them)."""
        ...

    def add_primary(self) -> str:
        """Add a fresh key as the new primary (only when ``editable``); its id."""
        ...

    def retire(self, key_id: str) -> None:
        """Drop a key (only when ``editable``)."""


class StoredCiphertexts(Protocol):
    """Every encrypted column of the database, counted and rewritten by key id."""

    async def key_usage(self) -> dict[str, int]:
        """How many stored ciphertexts each key id encrypted."""
        ...

    async def reencrypt(
        self, *, batch_size: int, on_progress: ProgressCallback | None = None
    ) -> int:
        """Rewrite every ciphertext not under the current primary key; rows rewritten."""
        ...


class AuditLogs(Protocol):
    """An AuditLog outside any unit of work, for operator commands."""

    def open(self) -> AbstractAsyncContextManager[AuditLog | None]:
        """A log whose entries are committed when the block ends; None without an audit table."""
        ...


class RotationProgress(Protocol):
    """Where a rotation reports while it runs (the CLI draws a progress bar)."""

    def key_added(self, key_id: str) -> None:
        """A new primary key was added before re-encrypting."""

    def reencrypting(self, primary: str) -> AbstractContextManager[ProgressCallback]:
        """Around the main re-encryption pass; yields the per-batch callback."""
        ...
