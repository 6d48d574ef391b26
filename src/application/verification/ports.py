"""The checker's ports: the three sources it reads, each only read."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from application.verification.records import (
    DatabaseFindings,
    GatewayLedger,
    StreamEvent,
    TransactionRecord,
)


class InvariantDatabase(Protocol):
    """Our database: the invariants checked in SQL and a snapshot of our transactions."""

    async def check(self) -> DatabaseFindings:
        """Run the SQL invariants (one consistent snapshot)."""

    async def transactions(self) -> Sequence[TransactionRecord]:
        """Every transaction with its attempts, published versions and refund flags."""


class GatewayLedgers(Protocol):
    """The gateways' own ledgers of the payments they received."""

    async def ledgers(self) -> Sequence[GatewayLedger]:
        """Every gateway's ledger; an unreadable one carries ``error``."""


class EventStream(Protocol):
    """The transactions topic, read from its beginning."""

    async def events(self) -> Sequence[StreamEvent]:
        """Every message on the transactions topic, from the beginning to its end.

        Raises SourceUnavailable when the stream cannot be read.
        """
