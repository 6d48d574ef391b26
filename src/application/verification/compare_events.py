"""Our records against the transactions topic: a pure comparison."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from application.verification.records import StreamEvent, TransactionRecord
from application.verification.report import Violation

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
