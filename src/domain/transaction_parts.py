"""The values a Transaction is made of: its type and states, attempts, events.

Split from domain/transaction.py (the aggregate and its state machine) so that
module reads as the rules; importers keep using ``domain.transaction``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal


class TransactionType(StrEnum):
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"
    REFUND = "refund"  # money back to a completed deposit's payer (domain/refunds.py)


class TransactionStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"

    @property
    def is_terminal(self) -> bool:
        return self in (TransactionStatus.COMPLETED, TransactionStatus.FAILED)


# The state machine: which states may follow each one (terminal: none).
ALLOWED_MOVES: dict[TransactionStatus, frozenset[TransactionStatus]] = {
    TransactionStatus.PENDING: frozenset({TransactionStatus.PROCESSING, TransactionStatus.FAILED}),
    TransactionStatus.PROCESSING: frozenset(
        {TransactionStatus.COMPLETED, TransactionStatus.FAILED}
    ),
    TransactionStatus.COMPLETED: frozenset(),
    TransactionStatus.FAILED: frozenset(),
}

SettleOutcome = Literal["applied", "duplicate", "contradiction"]


class AttemptOutcome(StrEnum):
    """How one call to a gateway ended (see DESIGN.md, routing and resilience)."""

    IN_FLIGHT = "in_flight"  # recorded before the call, so a crash leaves a trace
    ACCEPTED = "accepted"
    NOT_SENT = "not_sent"  # never reached the gateway: safe to try the next one
    TRANSIENT = "transient"  # refused before acceptance (5xx, 429): retry, then next
    DECLINED = "declined"  # definitive business refusal: no fallback
    AMBIGUOUS = "ambiguous"  # sent, answer lost: the money may have moved


@dataclass(slots=True)
class Attempt:
    """One call to one gateway, with the idempotency reference it was sent."""

    number: int
    gateway_id: str
    reference: str
    started_at: datetime
    outcome: AttemptOutcome = AttemptOutcome.IN_FLIGHT
    error_code: str | None = None
    latency_ms: int | None = None
    tries: int = 0  # calls made under this reference (retries of transient refusals)


@dataclass(frozen=True, slots=True)
class SettlementMismatch:
    """Why a gateway's final word is not about the attempt it accepted: never applied."""

    kind: Literal["reference", "amount"]
    detail: str


@dataclass(frozen=True, slots=True)
class TransactionEvent:
    """A state change, as published to the rest of the platform."""

    type: str
    transaction_id: str
    version: int
    occurred_at: datetime
    data: dict[str, Any]


def parent_refused(type: TransactionType, parented: bool) -> bool:
    """A refund names its deposit, a deposit has none, a withdrawal may (a closed-loop leg)."""
    return type is not TransactionType.WITHDRAWAL and parented != (type is TransactionType.REFUND)
