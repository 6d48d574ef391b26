"""The Transaction aggregate: one deposit, withdrawal or refund and its gateway attempts.

States: pending -> processing -> completed | failed, and pending -> failed when
no gateway accepts. Terminal states never change. Each transition bumps
``version`` and records an event that the unit of work writes to the outbox in
the same database transaction as the state itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from domain.errors import IllegalTransition, InvalidInput
from domain.money import Money
from domain.transaction_parts import (
    ALLOWED_MOVES,
    Attempt,
    AttemptOutcome,
    SettlementMismatch,
    SettleOutcome,
    TransactionEvent,
    TransactionStatus,
    TransactionType,
    parent_refused,
)

# Re-exported: the aggregate's parts are imported from here everywhere.
__all__ = [
    "Attempt",
    "AttemptOutcome",
    "SettleOutcome",
    "SettlementMismatch",
    "Transaction",
    "TransactionEvent",
    "TransactionStatus",
    "TransactionType",
]


@dataclass(eq=False, slots=True)
class Transaction:
    id: str
    type: TransactionType
    user_id: int
    money: Money
    status: TransactionStatus
    version: int
    created_at: datetime
    updated_at: datetime
    gateway_id: str | None = None
    reference_id: str | None = None
    redirect_url: str | None = None
    client_secret: str | None = field(default=None, repr=False)  # Stripe's; answered, not stored
    message: str | None = None
    # A withdrawal's payout target (IBAN, card...): encrypted at rest, never logged.
    destination: dict[str, str] | None = field(default=None, repr=False)
    parent_transaction_id: str | None = None  # a refund's deposit; a leg's withdrawal
    attempts: list[Attempt] = field(default_factory=list)
    events: list[TransactionEvent] = field(default_factory=list)
    # The version last read from or written (0: never stored): the optimistic lock's.
    loaded_version: int = 0
    # Numbers of the attempts opened or settled since the last write: the
    # unit of work writes only those (see pull_changed_attempts).
    changed_attempts: set[int] = field(default_factory=set, repr=False)

    @classmethod
    def create(
        cls,
        *,
        transaction_id: str,
        type: TransactionType,
        user_id: int,
        money: Money,
        now: datetime,
        destination: dict[str, str] | None = None,
        parent_transaction_id: str | None = None,
        message: str = "Transaction created",
    ) -> Transaction:
        if destination is not None and type is not TransactionType.WITHDRAWAL:
            raise InvalidInput("only withdrawals have a destination")
        if parent_refused(type, parent_transaction_id is not None):
            raise InvalidInput("a refund names its deposit; a deposit has no parent")
        tx = cls(
            id=transaction_id,
            type=type,
            user_id=user_id,
            money=money,
            status=TransactionStatus.PENDING,
            version=1,
            created_at=now,
            updated_at=now,
            message=message,
            destination=destination,
            parent_transaction_id=parent_transaction_id,
        )
        tx._record("transaction.created", now)
        return tx

    # -- attempts ---------------------------------------------------------
    def begin_attempt(self, gateway_id: str, now: datetime) -> Attempt:
        """Open the next attempt; its reference is what the gateway dedupes on."""
        if self.status is not TransactionStatus.PENDING:
            raise IllegalTransition(
                f"cannot call a gateway for a {self.status} transaction",
                transaction_id=self.id,
            )
        number = len(self.attempts) + 1
        attempt = Attempt(
            number=number,
            gateway_id=gateway_id,
            reference=f"{self.id}:{number}",
            started_at=now,
        )
        self.attempts.append(attempt)
        self.changed_attempts.add(number)
        return attempt

    def settle_attempt(
        self,
        number: int,
        outcome: AttemptOutcome,
        *,
        latency_ms: int,
        error_code: str | None = None,
        tries: int = 1,
    ) -> None:
        if outcome is AttemptOutcome.IN_FLIGHT:
            raise IllegalTransition("an attempt cannot be settled as in flight")
        if not 1 <= number <= len(self.attempts):
            raise IllegalTransition(f"there is no attempt {number}", transaction_id=self.id)
        attempt = self.attempts[number - 1]
        if attempt.outcome is not AttemptOutcome.IN_FLIGHT:
            raise IllegalTransition(f"attempt {number} is already settled", transaction_id=self.id)
        attempt.outcome = outcome
        attempt.latency_ms = latency_ms
        attempt.error_code = error_code
        attempt.tries = tries
        self.changed_attempts.add(number)

    def attempt_at_gateway(self) -> Attempt | None:
        """The last attempt at the gateway that accepted the transaction, if any."""
        at_gateway = [a for a in self.attempts if a.gateway_id == self.gateway_id]
        return at_gateway[-1] if at_gateway else None

    def current_attempt(self) -> Attempt | None:
        # Before an acceptance is recorded its answer may still be on the way.
        """The attempt that decides: the last at the accepting gateway, else the last asked."""
        accepted = self.attempt_at_gateway()
        if accepted is not None:
            return accepted
        return self.attempts[-1] if self.attempts else None

    def check_settlement(
        self, reference: str | None, amount_minor: int | None, currency: str | None
    ) -> SettlementMismatch | None:
        """Whether a gateway's final word names this transaction's accepted attempt.

        The gateway's reference must be the one it gave when it accepted; while
        that is unknown (answer lost or not yet recorded) any reference is
        taken, and ``settle`` adopts it. Amount and currency are checked when
        the gateway states them (not every family does). None: it may settle.
        """
        if self.reference_id is not None and reference != self.reference_id:
            detail = f"gateway names {reference!r}, the accepted attempt is {self.reference_id!r}"
            return SettlementMismatch("reference", f"reference mismatch: {detail}")
        ours, code = self.money.minor, self.money.currency.code
        if (amount_minor is not None and amount_minor != ours) or (
            currency is not None and currency != code
        ):
            detail = f"gateway {amount_minor} {currency}, ours {ours} {code}"
            return SettlementMismatch("amount", f"amount mismatch: {detail}")
        return None

    # -- state transitions --------------------------------------------------
    def mark_processing(
        self,
        *,
        gateway_id: str,
        reference_id: str | None,
        redirect_url: str | None,
        message: str,
        now: datetime,
    ) -> None:
        """A gateway took it (or may have: ``reference_id`` None, answer lost); final later."""
        self._move(TransactionStatus.PROCESSING, now, message)
        self.gateway_id = gateway_id
        self.reference_id = reference_id
        self.redirect_url = redirect_url
        self._record("transaction.processing", now)

    def complete(self, *, message: str, now: datetime) -> bool:
        """Mark completed; False (and no change) when it already is."""
        if self.status is TransactionStatus.COMPLETED:
            return False
        self._move(TransactionStatus.COMPLETED, now, message)
        self._record("transaction.completed", now)
        return True

    def fail(self, *, message: str, now: datetime, gateway_id: str | None = None) -> bool:
        """Mark failed; False (and no change) when it already is."""
        if self.status is TransactionStatus.FAILED:
            return False
        self._move(TransactionStatus.FAILED, now, message)
        if gateway_id is not None:
            self.gateway_id = gateway_id
        self._record("transaction.failed", now)
        return True

    def settle(
        self,
        final: TransactionStatus,
        *,
        message: str,
        now: datetime,
        reference_id: str | None = None,
    ) -> SettleOutcome:
        """Apply the gateway's final word (callback or status inquiry).

        - the same final status again is a ``duplicate`` and changes nothing;
        - a different final status after a terminal one is a ``contradiction``:
          never applied, the caller flags it for reconciliation;
        - a still-pending transaction whose gateway answered before our request
          recorded the acceptance is accepted first, then settled.
        """
        if not final.is_terminal:
            raise IllegalTransition(f"{final} is not a final status", transaction_id=self.id)
        if self.status is final:
            return "duplicate"
        if self.status.is_terminal:
            return "contradiction"
        if self.status is TransactionStatus.PENDING:
            if not self.attempts:
                return "contradiction"  # no gateway was ever asked: nothing can have an outcome
            self.mark_processing(
                gateway_id=self.attempts[-1].gateway_id,
                reference_id=reference_id,
                redirect_url=None,
                message="Accepted by the gateway",
                now=now,
            )
        if self.reference_id is None and reference_id:
            self.reference_id = reference_id
        if final is TransactionStatus.COMPLETED:
            self.complete(message=message, now=now)
        else:
            self.fail(message=message, now=now)
        return "applied"

    def _move(self, target: TransactionStatus, now: datetime, message: str) -> None:
        if target not in ALLOWED_MOVES[self.status]:
            raise IllegalTransition(
                f"transaction {self.id} cannot go from {self.status} to {target}",
                transaction_id=self.id,
            )
        self.status = target
        self.version += 1
        self.updated_at = now
        self.message = message

    def _record(self, event_type: str, now: datetime) -> None:
        self.events.append(
            TransactionEvent(
                type=event_type,
                transaction_id=self.id,
                version=self.version,
                occurred_at=now,
                data=self.snapshot(),
            )
        )

    def pull_events(self) -> list[TransactionEvent]:
        """Hand the recorded events to the unit of work, exactly once."""
        events, self.events = self.events, []
        return events

    def pull_changed_attempts(self) -> list[Attempt]:
        """The attempts opened or settled since the last write, exactly once."""
        numbers, self.changed_attempts = self.changed_attempts, set()
        return [self.attempts[n - 1] for n in sorted(numbers)]

    @property
    def is_new(self) -> bool:  # never stored yet: the unit of work inserts it
        return self.loaded_version == 0

    def snapshot(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "type": self.type.value,
            "status": self.status.value,
            "user_id": self.user_id,
            "amount": self.money.format(),
            "currency": self.money.currency.code,
            "gateway": self.gateway_id,
            "reference_id": self.reference_id,
            "message": self.message,
        }
        if self.parent_transaction_id is not None:
            data["parent_transaction_id"] = self.parent_transaction_id
        return data
