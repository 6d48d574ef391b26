"""What the sources give the checker: our records, the gateways' and the stream's."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from application.verification.report import Violation
from domain.transaction import AttemptOutcome, TransactionStatus, TransactionType


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    number: int
    gateway_id: str
    reference: str
    outcome: AttemptOutcome


@dataclass(frozen=True, slots=True)
class TransactionRecord:
    """Our side of one transaction, as the cross-checks need it."""

    id: str
    type: TransactionType
    status: TransactionStatus
    amount_minor: int
    currency: str
    version: int
    gateway_id: str | None
    created_at: datetime
    attempts: tuple[AttemptRecord, ...] = ()
    # Lifecycle versions whose outbox rows are marked published (so on the stream).
    published_versions: frozenset[int] = frozenset()
    # Gateways where a charge for this transaction was flagged for a refund.
    refund_flagged_at: frozenset[str] = frozenset()
    has_legs: bool = False  # a closed-loop withdrawal: its legs are checked, not it

    def winning_attempt(self) -> AttemptRecord | None:
        """The attempt whose gateway holds the transaction: the last one there."""
        if self.gateway_id is None:
            return None
        at_gateway = [a for a in self.attempts if a.gateway_id == self.gateway_id]
        return at_gateway[-1] if at_gateway else None


@dataclass(frozen=True, slots=True)
class DatabaseFindings:
    violations: tuple[Violation, ...]
    counts: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class GatewayPayment:
    """One payment in a gateway's ledger, as the gateway reports it."""

    gateway_id: str
    reference: str  # the idempotency reference it was sent under
    transaction_id: str
    type: str
    amount: str  # decimal string in the currency's precision
    currency: str
    status: str  # processing | completed | failed


@dataclass(frozen=True, slots=True)
class GatewayLedger:
    gateway_id: str
    payments: tuple[GatewayPayment, ...] = ()
    error: str | None = None  # set when the ledger could not be read


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One message from the transactions topic; fields are None when absent."""

    partition: int
    offset: int
    key: str | None
    transaction_id: str | None
    version: int | None
    event_id: str | None
    type: str | None


class SourceUnavailable(Exception):
    """An optional source (event stream) could not be read; reported as a violation."""
