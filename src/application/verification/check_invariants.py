"""The use case: run every invariant the configured sources allow.

The checker is meant for a system at rest (after a load run, a fault
scenario, or on an idle service): the sources are read one after the other,
not in one snapshot. The order narrows the remaining races: gateway ledgers
first (an attempt is committed before its gateway call, so every payment a
gateway holds already has its attempt when the database is read next), the
event stream last (an event marked published was on the stream before the
database said so). Transactions still in flight are never compared with a
gateway.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from application.verification.catalog import (
    DATABASE_INVARIANTS,
    EVENT_INVARIANTS,
    GATEWAY_INVARIANTS,
)
from application.verification.compare_events import compare_event_stream
from application.verification.compare_gateways import compare_gateway_ledgers
from application.verification.ports import EventStream, GatewayLedgers, InvariantDatabase
from application.verification.records import SourceUnavailable, TransactionRecord
from application.verification.report import CheckReport, Violation


class CheckInvariants:
    """Run every invariant the configured sources allow; never stops at the first failure."""

    def __init__(
        self,
        database: InvariantDatabase,
        gateways: GatewayLedgers | None = None,
        events: EventStream | None = None,
        *,
        since: datetime | None = None,
        skipped: Sequence[str] = (),
    ) -> None:
        self._database = database
        self._gateways = gateways
        self._events = events
        self._since = since
        self._skipped = tuple(skipped)

    async def execute(self) -> CheckReport:
        violations: list[Violation] = []
        counts: dict[str, int] = {}
        invariants = list(DATABASE_INVARIANTS)
        # Gateways first: the module docstring says why the order matters.
        ledgers = await self._gateways.ledgers() if self._gateways is not None else None
        findings = await self._database.check()
        violations += findings.violations
        counts.update(findings.counts)
        records: Sequence[TransactionRecord] = ()
        if self._gateways is not None or self._events is not None:
            records = await self._database.transactions()
        if ledgers is not None:
            invariants += GATEWAY_INVARIANTS
            violations += compare_gateway_ledgers(records, ledgers, since=self._since)
            counts["gateway_payments"] = sum(len(ledger.payments) for ledger in ledgers)
        if self._events is not None:
            invariants += EVENT_INVARIANTS
            try:
                events = await self._events.events()
            except SourceUnavailable as exc:
                violations.append(Violation("kafka.readable", str(exc)))
            else:
                violations += compare_event_stream(records, events, since=self._since)
                counts["kafka_events"] = len(events)
        return CheckReport(tuple(violations), counts, tuple(invariants), self._skipped)
