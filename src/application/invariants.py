"""Money invariants: what must hold after any traffic, faults included.

``CheckInvariants`` composes three sources, each behind a Protocol:

* the database (``InvariantDatabase``): the ledger, the outbox and the
  attempts checked in SQL, plus a snapshot of our transactions for the
  cross-checks below;
* the gateways' own ledgers (``GatewayLedgers``, optional): every payment a
  gateway received, keyed by the idempotency reference we sent;
* the event stream (``EventStream``, optional): every message on
  ``payments.transactions.v1`` from the beginning.

The cross-checks (our records against the gateways, our records against the
stream) are pure functions here, so they are unit-tested with plain data; the
adapters only read.

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

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from domain.errors import InvalidInput
from domain.money import Money
from domain.transaction import AttemptOutcome, TransactionStatus, TransactionType

# -- the invariants, by source ---------------------------------------------------------
DATABASE_INVARIANTS: Mapping[str, str] = {
    "ledger.journal_balanced": "every ledger journal sums to zero",
    "ledger.journal_shape": "each journal moves its transaction's amount between the two "
    "accounts its kind names (the user's, in the transaction's currency)",
    "ledger.non_negative": "no user account (available or held) is below zero",
    "ledger.balance_matches_postings": "each user account's balance is the sum of its postings",
    "ledger.money_conserved": "per currency, user balances plus the external account's "
    "postings sum to zero",
    "ledger.held_matches_open_withdrawals": "held balance per (user, currency) is the sum of "
    "withdrawals still pending or processing",
    "ledger.deposit_journals": "a completed deposit has exactly one deposit.credit journal, "
    "any other deposit none",
    "ledger.withdrawal_journals": "a withdrawal has hold+payout when completed, hold+release "
    "when failed, only hold while open",
    "outbox.lifecycle_events": "a transaction at version N has lifecycle events 1..N in the "
    "outbox, each exactly once, created first and its current state last",
    "attempts.unique_reference": "no two gateway attempts share an idempotency reference",
    "attempts.well_formed": "attempts are numbered 1..n and referenced {transaction_id}:{n}",
    "transactions.gateway_attempt": "a processing or completed transaction has an attempt at "
    "its gateway",
}
GATEWAY_INVARIANTS: Mapping[str, str] = {
    "gateway.ledger_readable": "every gateway's ledger can be read",
    "gateway.reference_charged_once": "no idempotency reference was taken twice (at one "
    "gateway or across gateways)",
    "gateway.payment_known": "every gateway payment maps to exactly one of our attempts, at "
    "that gateway, for the transaction it names",
    "gateway.payment_matches": "a gateway payment has our transaction's type, amount and currency",
    "gateway.not_sent_absent": "an attempt we recorded as not sent is unknown to its gateway",
    "gateway.outcome_matches": "a terminal transaction matches its gateway: completed at our "
    "winning attempt <=> the gateway completed that reference",
    "gateway.no_unreported_charge": "money a gateway took for an attempt we abandoned is "
    "flagged for a refund",
}
EVENT_INVARIANTS: Mapping[str, str] = {
    "kafka.readable": "the transactions topic can be read to its end",
    "kafka.well_formed": "every message is a lifecycle envelope keyed by its transaction id",
    "kafka.known_transaction": "every event names a transaction we have, at a version it "
    "reached, with one event id per version",
    "kafka.complete": "every lifecycle event the outbox marked published is on the topic",
    "kafka.in_order": "per partition, a transaction's versions first appear in order "
    "(redelivered duplicates allowed)",
}
INVARIANTS: Mapping[str, str] = {**DATABASE_INVARIANTS, **GATEWAY_INVARIANTS, **EVENT_INVARIANTS}

# Reconciliation issue kinds that mean "a human was told to refund this charge".
REFUND_FLAGS = frozenset({"abandoned_attempt_completed", "gateway_completed_we_failed"})


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken invariant, named as in ``INVARIANTS``."""

    invariant: str
    detail: str
    transaction_id: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        return {
            "invariant": self.invariant,
            "detail": self.detail,
            "transaction_id": self.transaction_id,
        }


@dataclass(frozen=True, slots=True)
class CheckReport:
    """What was checked and what failed; ``ok`` only when nothing did."""

    violations: tuple[Violation, ...]
    counts: Mapping[str, int]  # what was looked at: transactions, journals, events...
    invariants: tuple[str, ...]  # the invariants that were checked
    skipped: tuple[str, ...] = ()  # sources not consulted, with the reason

    @property
    def ok(self) -> bool:
        return not self.violations

    def failed(self) -> dict[str, int]:
        """Violations per invariant name."""
        out: dict[str, int] = defaultdict(int)
        for violation in self.violations:
            out[violation.invariant] += 1
        return dict(out)

    def to_dict(self) -> dict[str, Any]:
        failed = self.failed()
        return {
            "ok": self.ok,
            "invariants": {name: failed.get(name, 0) for name in self.invariants},
            "violations": [v.to_dict() for v in self.violations],
            "counts": dict(self.counts),
            "skipped": list(self.skipped),
        }


# -- what the sources give us -------------------------------------------------------------
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


# -- ports ----------------------------------------------------------------------------------
class InvariantDatabase(Protocol):
    async def check(self) -> DatabaseFindings:
        """Run the SQL invariants (one consistent snapshot)."""

    async def transactions(self) -> Sequence[TransactionRecord]:
        """Every transaction with its attempts, published versions and refund flags."""


class GatewayLedgers(Protocol):
    async def ledgers(self) -> Sequence[GatewayLedger]:
        """Every gateway's ledger; an unreadable one carries ``error``."""


class EventStream(Protocol):
    async def events(self) -> Sequence[StreamEvent]:
        """Every message on the transactions topic, from the beginning to its end.

        Raises SourceUnavailable when the stream cannot be read.
        """


# -- the use case ---------------------------------------------------------------------------
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
        # Gateways first: see the module docstring for why the order matters.
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


# -- our records against the gateways' ledgers -----------------------------------------------
def compare_gateway_ledgers(
    records: Iterable[TransactionRecord],
    ledgers: Iterable[GatewayLedger],
    *,
    since: datetime | None = None,
) -> list[Violation]:
    """Cross-check our transactions with what the gateways say they received.

    ``since`` limits the outcome check to transactions created from then on:
    a sandbox keeps its ledger in memory and forgets it on restart, while our
    database remembers everything. Every payment a gateway holds is checked
    whatever its age.
    """
    violations: list[Violation] = []
    transactions = {tx.id: tx for tx in records}
    # reference -> every attempt of ours sent under it (more than one is itself a violation)
    ours: dict[str, list[tuple[TransactionRecord, AttemptRecord]]] = defaultdict(list)
    for tx in transactions.values():
        for attempt in tx.attempts:
            ours[attempt.reference].append((tx, attempt))

    taken: dict[str, list[GatewayPayment]] = defaultdict(list)
    for ledger in ledgers:
        if ledger.error is not None:
            violations.append(
                Violation("gateway.ledger_readable", f"{ledger.gateway_id}: ledger: {ledger.error}")
            )
        for payment in ledger.payments:
            taken[payment.reference].append(payment)

    for reference, payments in taken.items():
        if len(payments) > 1:
            where = ", ".join(f"{p.gateway_id} ({p.status})" for p in payments)
            violations.append(
                Violation(
                    "gateway.reference_charged_once",
                    f"reference {reference} was taken {len(payments)} times: {where}",
                    payments[0].transaction_id,
                )
            )
        for payment in payments:
            violations += _check_payment(payment, ours.get(reference, []))

    for tx in transactions.values():
        if since is not None and tx.created_at < since:
            continue
        violations += _check_outcome(tx, taken)
    return violations


def _check_payment(
    payment: GatewayPayment, matches: list[tuple[TransactionRecord, AttemptRecord]]
) -> list[Violation]:
    """One gateway payment against the attempt(s) of ours sent under its reference."""
    where = f"{payment.gateway_id} payment {payment.reference}"
    if not matches:
        return [
            Violation(
                "gateway.payment_known",
                f"{where} (transaction {payment.transaction_id}, {payment.amount} "
                f"{payment.currency}, {payment.status}) has no attempt of ours",
                payment.transaction_id,
            )
        ]
    if len(matches) > 1:
        owners = ", ".join(f"{tx.id} attempt {a.number}" for tx, a in matches)
        return [
            Violation(
                "gateway.payment_known",
                f"{where} maps to {len(matches)} attempts of ours: {owners}",
                payment.transaction_id,
            )
        ]
    tx, attempt = matches[0]
    out: list[Violation] = []
    if attempt.gateway_id != payment.gateway_id or payment.transaction_id != tx.id:
        out.append(
            Violation(
                "gateway.payment_known",
                f"{where} names transaction {payment.transaction_id}; our attempt "
                f"{attempt.number} under that reference went to {attempt.gateway_id} "
                f"for transaction {tx.id}",
                tx.id,
            )
        )
    amount_minor = _minor(payment.amount, payment.currency)
    if (payment.type, amount_minor, payment.currency) != (
        tx.type.value,
        tx.amount_minor,
        tx.currency,
    ):
        out.append(
            Violation(
                "gateway.payment_matches",
                f"{where} is a {payment.type} of {payment.amount} {payment.currency}; ours is "
                f"a {tx.type.value} of {Money.format_minor(tx.amount_minor, tx.currency)} "
                f"{tx.currency}",
                tx.id,
            )
        )
    if attempt.outcome is AttemptOutcome.NOT_SENT:
        out.append(
            Violation(
                "gateway.not_sent_absent",
                f"{where} exists ({payment.status}) although we recorded attempt "
                f"{attempt.number} as never sent and may have fallen back",
                tx.id,
            )
        )
    return out


def _check_outcome(
    tx: TransactionRecord, taken: Mapping[str, list[GatewayPayment]]
) -> list[Violation]:
    """A terminal transaction against the gateways' records of its attempts."""
    if not tx.status.is_terminal:
        return []  # in flight: the gateway's word may still be on its way
    out: list[Violation] = []
    winner = tx.winning_attempt()
    if winner is not None:
        at_gateway = [
            p for p in taken.get(winner.reference, []) if p.gateway_id == winner.gateway_id
        ]
        status = at_gateway[0].status if at_gateway else None
        if tx.status is TransactionStatus.COMPLETED and status != "completed":
            out.append(
                Violation(
                    "gateway.outcome_matches",
                    f"completed at {winner.gateway_id} under {winner.reference}, but the "
                    + (f"gateway says {status}" if status else "gateway has no such payment"),
                    tx.id,
                )
            )
        elif tx.status is TransactionStatus.FAILED and status not in (None, "failed"):
            out.append(
                Violation(
                    "gateway.outcome_matches",
                    f"failed, but {winner.gateway_id} says {status} for {winner.reference}",
                    tx.id,
                )
            )
    elif tx.status is TransactionStatus.COMPLETED:
        out.append(
            Violation(
                "gateway.outcome_matches", "completed without an attempt at its gateway", tx.id
            )
        )
    for attempt in tx.attempts:
        if winner is not None and attempt.reference == winner.reference:
            continue
        completed = [
            p
            for p in taken.get(attempt.reference, [])
            if p.gateway_id == attempt.gateway_id and p.status == "completed"
        ]
        # The reconciler flags such charges for a human to refund; until it
        # has, money was taken twice (or taken for a failed payment) unnoticed.
        if completed and attempt.gateway_id not in tx.refund_flagged_at:
            out.append(
                Violation(
                    "gateway.no_unreported_charge",
                    f"{attempt.gateway_id} completed {attempt.reference} (attempt "
                    f"{attempt.number}, {attempt.outcome.value}) but the transaction is "
                    f"{tx.status.value}"
                    + (f" at {winner.gateway_id}" if winner is not None else "")
                    + "; no refund was flagged",
                    tx.id,
                )
            )
    return out


def _minor(amount: str, currency: str) -> int | None:
    try:
        return Money.parse(amount, currency).minor
    except InvalidInput:
        return None


# -- our records against the event stream ---------------------------------------------------
LIFECYCLE_TYPES = frozenset(
    {"transaction.created", "transaction.processing", "transaction.completed", "transaction.failed"}
)


@dataclass(slots=True)
class _Seen:
    """A transaction's events on the stream."""

    versions: set[int] = field(default_factory=set)
    event_ids: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))


def compare_event_stream(
    records: Iterable[TransactionRecord],
    events: Iterable[StreamEvent],
    *,
    since: datetime | None = None,
) -> list[Violation]:
    """Completeness and order of each transaction's lifecycle events on the stream.

    Complete: every version the outbox marked published is there (an event
    still waiting in the outbox is a backlog, not a loss; the database check
    ties the outbox to the transaction's version). In order: within a
    partition, a version never appears for the first time after a higher one
    of the same transaction, because a consumer that drops stale versions
    would then lose it. Duplicates of versions already seen (at-least-once
    redelivery) are fine. ``since`` limits the completeness check to
    transactions created from then on (events the relay dispatched in-process,
    before Kafka was configured, never reached the topic).
    """
    violations: list[Violation] = []
    transactions = {tx.id: tx for tx in records}
    seen: dict[str, _Seen] = defaultdict(_Seen)
    # (partition, transaction) -> highest version so far / versions so far
    highest: dict[tuple[int, str], int] = {}
    in_partition: dict[tuple[int, str], set[int]] = defaultdict(set)
    reported_unknown: set[str] = set()
    for event in sorted(events, key=lambda e: (e.partition, e.offset)):
        where = f"partition {event.partition} offset {event.offset}"
        if (
            event.transaction_id is None
            or event.version is None
            or event.event_id is None
            or event.type not in LIFECYCLE_TYPES
        ):
            violations.append(
                Violation(
                    "kafka.well_formed",
                    f"{where}: not a lifecycle envelope (type {event.type!r}, version "
                    f"{event.version!r}, event id {event.event_id!r})",
                    event.transaction_id,
                )
            )
            continue
        tx_id, version = event.transaction_id, event.version
        if event.key != tx_id:
            # The key is what keeps a transaction's events in one partition.
            violations.append(
                Violation("kafka.well_formed", f"{where}: keyed {event.key!r}", tx_id)
            )
        tx = transactions.get(tx_id)
        if tx is None:
            if tx_id not in reported_unknown:
                reported_unknown.add(tx_id)
                violations.append(
                    Violation("kafka.known_transaction", f"{where}: no such transaction", tx_id)
                )
            continue
        if not 1 <= version <= tx.version:
            violations.append(
                Violation(
                    "kafka.known_transaction",
                    f"{where}: version {version}, but the transaction is at {tx.version}",
                    tx_id,
                )
            )
        slot = (event.partition, tx_id)
        if version not in in_partition[slot] and version < highest.get(slot, 0):
            violations.append(
                Violation(
                    "kafka.in_order",
                    f"{where}: version {version} first appears after version "
                    f"{highest[slot]} in partition {event.partition}",
                    tx_id,
                )
            )
        in_partition[slot].add(version)
        highest[slot] = max(highest.get(slot, 0), version)
        seen[tx_id].versions.add(version)
        seen[tx_id].event_ids[version].add(event.event_id)

    for tx_id, tx_seen in seen.items():
        for version, ids in sorted(tx_seen.event_ids.items()):
            if len(ids) > 1:
                violations.append(
                    Violation(
                        "kafka.known_transaction",
                        f"version {version} appears with {len(ids)} different event ids",
                        tx_id,
                    )
                )
    for tx in transactions.values():
        if since is not None and tx.created_at < since:
            continue
        on_topic = seen[tx.id].versions if tx.id in seen else set()
        missing = sorted(tx.published_versions - on_topic)
        if missing:
            violations.append(
                Violation(
                    "kafka.complete",
                    f"published version(s) {_join(missing)} of {tx.version} are not on the topic",
                    tx.id,
                )
            )
    return violations


def _join(numbers: Iterable[int]) -> str:
    return ", ".join(str(n) for n in numbers)
