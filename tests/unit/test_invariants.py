"""The invariant checker's composition and cross-checks, with plain data and fakes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from application.verification.catalog import (
    DATABASE_INVARIANTS,
    EVENT_INVARIANTS,
    GATEWAY_INVARIANTS,
)
from application.verification.check_invariants import CheckInvariants
from application.verification.compare_events import compare_event_stream
from application.verification.compare_gateways import compare_gateway_ledgers
from application.verification.records import (
    AttemptRecord,
    DatabaseFindings,
    GatewayLedger,
    GatewayPayment,
    SourceUnavailable,
    StreamEvent,
    TransactionRecord,
)
from application.verification.report import CheckReport, Violation
from domain.transaction import AttemptOutcome, TransactionStatus, TransactionType
from entrypoints.check import render

T0 = datetime(2025, 1, 1, tzinfo=UTC)
A = AttemptOutcome


def tx(
    tx_id: str = "t1",
    status: TransactionStatus = TransactionStatus.COMPLETED,
    *,
    attempts: Sequence[tuple[str, AttemptOutcome]] = (("paypal", A.ACCEPTED),),
    gateway_id: str | None = "paypal",
    version: int | None = None,
    published: Sequence[int] | None = None,
    type: TransactionType = TransactionType.DEPOSIT,
    flagged: Sequence[str] = (),
    created_at: datetime = T0,
) -> TransactionRecord:
    versions = {
        TransactionStatus.PENDING: 1,
        TransactionStatus.PROCESSING: 2,
        TransactionStatus.COMPLETED: 3,
        TransactionStatus.FAILED: 3,
    }
    v = version if version is not None else versions[status]
    return TransactionRecord(
        id=tx_id,
        type=type,
        status=status,
        amount_minor=1000,
        currency="USD",
        version=v,
        gateway_id=gateway_id,
        created_at=created_at,
        attempts=tuple(
            AttemptRecord(n, gw, f"{tx_id}:{n}", outcome)
            for n, (gw, outcome) in enumerate(attempts, start=1)
        ),
        published_versions=frozenset(range(1, v + 1) if published is None else published),
        refund_flagged_at=frozenset(flagged),
    )


def paid(
    reference: str = "t1:1",
    gateway_id: str = "paypal",
    status: str = "completed",
    *,
    amount: str = "10.00",
    currency: str = "USD",
    type: str = "deposit",
    transaction_id: str | None = None,
) -> GatewayPayment:
    return GatewayPayment(
        gateway_id=gateway_id,
        reference=reference,
        transaction_id=transaction_id or reference.partition(":")[0],
        type=type,
        amount=amount,
        currency=currency,
        status=status,
    )


def ledgers(*payments: GatewayPayment) -> list[GatewayLedger]:
    by_gateway: dict[str, list[GatewayPayment]] = {"paypal": [], "stripe": []}
    for p in payments:
        by_gateway.setdefault(p.gateway_id, []).append(p)
    return [GatewayLedger(gid, tuple(ps)) for gid, ps in by_gateway.items()]


def names(violations: Sequence[Violation]) -> list[str]:
    return sorted(v.invariant for v in violations)


# -- gateway ledgers --------------------------------------------------------------------
def test_matching_records_hold() -> None:
    records = [
        tx("t1"),
        tx("t2", TransactionStatus.FAILED, attempts=[("stripe", A.DECLINED)], gateway_id="stripe"),
        tx("t3", TransactionStatus.PROCESSING),  # in flight, gateway still processing
        tx(
            "t4",
            attempts=[("paypal", A.NOT_SENT), ("stripe", A.ACCEPTED)],
            gateway_id="stripe",
        ),
        tx("t5", TransactionStatus.FAILED),  # the gateway's callback said failed
    ]
    found = compare_gateway_ledgers(
        records,
        ledgers(
            paid("t1:1"),
            paid("t3:1", status="processing"),
            paid("t4:2", "stripe"),
            paid("t5:1", status="failed"),
        ),
    )
    assert found == []


def test_a_payment_we_never_sent_is_reported() -> None:
    found = compare_gateway_ledgers([tx("t1")], ledgers(paid("t1:1"), paid("ghost:1")))
    assert names(found) == ["gateway.payment_known"]
    assert found[0].transaction_id == "ghost"
    assert "no attempt of ours" in found[0].detail


def test_a_reference_taken_by_two_gateways_is_charged_twice() -> None:
    found = compare_gateway_ledgers([tx("t1")], ledgers(paid("t1:1"), paid("t1:1", "stripe")))
    # ...and the stripe one is not where our attempt went.
    assert names(found) == ["gateway.payment_known", "gateway.reference_charged_once"]
    assert "taken 2 times" in next(v.detail for v in found if "charged" in v.invariant)


def test_a_payment_naming_another_transaction_is_not_ours() -> None:
    found = compare_gateway_ledgers([tx("t1")], ledgers(paid("t1:1", transaction_id="t9")))
    assert names(found) == ["gateway.payment_known"]


def test_two_attempts_under_one_reference_make_the_payment_ambiguous() -> None:
    twin = replace(tx("t2"), attempts=(AttemptRecord(1, "paypal", "t1:1", A.ACCEPTED),))
    found = compare_gateway_ledgers([tx("t1"), twin], ledgers(paid("t1:1")))
    assert "gateway.payment_known" in names(found)
    assert "2 attempts" in found[0].detail


@pytest.mark.parametrize(
    ("payment", "why"),
    [
        (paid(amount="10.01"), "10.01 USD"),
        (paid(currency="EUR"), "EUR"),
        (paid(type="withdrawal"), "withdrawal"),
        (paid(amount="not money"), "not money"),
    ],
)
def test_amount_currency_and_type_must_match(payment: GatewayPayment, why: str) -> None:
    found = compare_gateway_ledgers([tx("t1")], ledgers(payment))
    assert "gateway.payment_matches" in names(found)
    assert why in next(v.detail for v in found if v.invariant == "gateway.payment_matches")


def test_an_attempt_recorded_as_not_sent_must_be_unknown_to_the_gateway() -> None:
    record = tx(
        "t1", attempts=[("paypal", A.NOT_SENT), ("stripe", A.ACCEPTED)], gateway_id="stripe"
    )
    found = compare_gateway_ledgers(
        [record], ledgers(paid("t1:1", status="processing"), paid("t1:2", "stripe"))
    )
    assert names(found) == ["gateway.not_sent_absent"]


@pytest.mark.parametrize(
    ("status", "payments", "why"),
    [
        (TransactionStatus.COMPLETED, [], "no such payment"),
        (TransactionStatus.COMPLETED, [paid(status="failed")], "says failed"),
        (TransactionStatus.COMPLETED, [paid(status="processing")], "says processing"),
        (TransactionStatus.COMPLETED, [paid("t1:1", "stripe")], "no such payment"),
        (TransactionStatus.FAILED, [paid(status="completed")], "says completed"),
        (TransactionStatus.FAILED, [paid(status="processing")], "says processing"),
    ],
)
def test_a_terminal_transaction_must_match_its_gateway(
    status: TransactionStatus, payments: list[GatewayPayment], why: str
) -> None:
    found = compare_gateway_ledgers([tx("t1", status)], ledgers(*payments))
    outcome = [v for v in found if v.invariant == "gateway.outcome_matches"]
    assert len(outcome) == 1, found
    assert why in outcome[0].detail
    assert outcome[0].transaction_id == "t1"


def test_a_completed_transaction_needs_a_winning_attempt() -> None:
    found = compare_gateway_ledgers([tx("t1", gateway_id=None)], ledgers())
    assert names(found) == ["gateway.outcome_matches"]
    # Whatever a gateway took for it then went to no winner: unreported.
    found = compare_gateway_ledgers([tx("t1", gateway_id=None)], ledgers(paid()))
    assert names(found) == ["gateway.no_unreported_charge", "gateway.outcome_matches"]


def test_the_winning_attempt_is_the_last_one_at_the_transactions_gateway() -> None:
    # Retried at paypal after a stripe detour: attempt 3 is the one that counts.
    record = tx(
        "t1",
        attempts=[("paypal", A.AMBIGUOUS), ("stripe", A.NOT_SENT), ("paypal", A.ACCEPTED)],
    )
    found = compare_gateway_ledgers([record], ledgers(paid("t1:1", status="failed"), paid("t1:3")))
    assert found == []


def test_money_taken_at_an_abandoned_attempt_must_be_flagged_for_a_refund() -> None:
    record = tx(
        "t1", attempts=[("paypal", A.AMBIGUOUS), ("stripe", A.ACCEPTED)], gateway_id="stripe"
    )
    taken = ledgers(paid("t1:1"), paid("t1:2", "stripe"))
    found = compare_gateway_ledgers([record], taken)
    assert names(found) == ["gateway.no_unreported_charge"]
    assert "paypal completed t1:1" in found[0].detail
    flagged = replace(record, refund_flagged_at=frozenset({"paypal"}))
    assert compare_gateway_ledgers([flagged], taken) == []


def test_a_failed_transaction_charged_at_a_fallen_back_gateway_is_reported() -> None:
    record = tx("t1", TransactionStatus.FAILED, attempts=[("paypal", A.AMBIGUOUS)], gateway_id=None)
    found = compare_gateway_ledgers([record], ledgers(paid("t1:1")))
    assert names(found) == ["gateway.no_unreported_charge"]
    # Still processing at the gateway: not money taken (yet), nothing to report.
    assert compare_gateway_ledgers([record], ledgers(paid("t1:1", status="processing"))) == []


def test_transactions_in_flight_are_not_compared() -> None:
    for status in (TransactionStatus.PENDING, TransactionStatus.PROCESSING):
        assert compare_gateway_ledgers([tx("t1", status)], ledgers()) == []


def test_since_skips_older_transactions_the_sandbox_forgot() -> None:
    old = tx("old", created_at=T0 - timedelta(days=1))
    found = compare_gateway_ledgers([old, tx("t1")], ledgers(paid("t1:1")), since=T0)
    assert found == []
    assert names(compare_gateway_ledgers([old], ledgers())) == ["gateway.outcome_matches"]


def test_an_unreadable_ledger_is_a_violation() -> None:
    found = compare_gateway_ledgers([], [GatewayLedger("adyen", error="HTTP 404 from x")])
    assert names(found) == ["gateway.ledger_readable"]
    assert "adyen" in found[0].detail


# -- event stream -------------------------------------------------------------------------
def event(
    tx_id: str,
    version: int,
    *,
    partition: int = 0,
    offset: int,
    key: str | None = None,
    event_id: str | None = None,
    type: str = "transaction.created",
) -> StreamEvent:
    return StreamEvent(
        partition=partition,
        offset=offset,
        key=tx_id if key is None else key,
        transaction_id=tx_id,
        version=version,
        event_id=event_id or f"{tx_id}-v{version}",
        type=type,
    )


def stream(*versions: tuple[str, int], partition: int = 0) -> list[StreamEvent]:
    return [event(t, v, partition=partition, offset=n) for n, (t, v) in enumerate(versions)]


def test_a_complete_ordered_stream_holds_even_with_redelivered_duplicates() -> None:
    events = stream(("t1", 1), ("t2", 1), ("t1", 2), ("t1", 1), ("t1", 2), ("t1", 3), ("t2", 2))
    records = [tx("t1"), tx("t2", TransactionStatus.PROCESSING)]
    assert compare_event_stream(records, events) == []


def test_a_version_first_seen_after_a_higher_one_is_out_of_order() -> None:
    found = compare_event_stream([tx("t1")], stream(("t1", 1), ("t1", 3), ("t1", 2)))
    assert names(found) == ["kafka.in_order"]
    assert "version 2 first appears after version 3" in found[0].detail
    assert found[0].transaction_id == "t1"


def test_order_is_judged_per_partition_by_offset() -> None:
    # Delivered out of offset order by the reader: still in order on the partition.
    events = [event("t1", 2, offset=1), event("t1", 1, offset=0), event("t1", 3, offset=2)]
    assert compare_event_stream([tx("t1")], events) == []
    # Across partitions (the partition count changed) no order is promised.
    events = stream(("t1", 2), ("t1", 3)) + stream(("t1", 1), partition=1)
    assert compare_event_stream([tx("t1")], events) == []


def test_a_missing_published_version_makes_the_stream_incomplete() -> None:
    found = compare_event_stream([tx("t1")], stream(("t1", 1), ("t1", 3)))
    assert names(found) == ["kafka.complete"]
    assert "version(s) 2 of 3" in found[0].detail
    # Never published (still in the outbox): a backlog, not a loss.
    assert compare_event_stream([tx("t1", published=[1])], stream(("t1", 1))) == []
    # A transaction with no event at all on the topic.
    assert names(compare_event_stream([tx("t1")], [])) == ["kafka.complete"]


def test_events_must_belong_to_our_transactions_and_versions() -> None:
    found = compare_event_stream([tx("t1")], stream(("t1", 1), ("t1", 2), ("t1", 3), ("t1", 4)))
    assert names(found) == ["kafka.known_transaction"]
    found = compare_event_stream([], stream(("ghost", 1), ("ghost", 2)))
    assert names(found) == ["kafka.known_transaction"]  # once per transaction


def test_one_version_with_two_event_ids_is_a_conflict() -> None:
    events = [*stream(("t1", 1), ("t1", 2), ("t1", 3)), event("t1", 3, offset=9, event_id="x")]
    found = compare_event_stream([tx("t1")], events)
    assert names(found) == ["kafka.known_transaction"]
    assert "2 different event ids" in found[0].detail


def test_malformed_and_wrongly_keyed_messages_are_named() -> None:
    events = [
        *stream(("t1", 1), ("t1", 2)),
        event("t1", 3, offset=5, key="other"),
        StreamEvent(0, 6, "t1", None, None, None, None),
        event("t1", 3, offset=7, type="callback.verified"),
    ]
    found = compare_event_stream([tx("t1")], events)
    assert names(found) == ["kafka.well_formed"] * 3


# -- composition --------------------------------------------------------------------------
class FakeDatabase:
    def __init__(
        self,
        violations: Sequence[Violation] = (),
        records: Sequence[TransactionRecord] = (),
        log: list[str] | None = None,
    ) -> None:
        self.violations = tuple(violations)
        self.records = list(records)
        self.log = log if log is not None else []

    async def check(self) -> DatabaseFindings:
        self.log.append("database.check")
        return DatabaseFindings(self.violations, {"transactions": len(self.records)})

    async def transactions(self) -> Sequence[TransactionRecord]:
        self.log.append("database.transactions")
        return self.records


class FakeLedgers:
    def __init__(self, payments: Sequence[GatewayPayment], log: list[str]) -> None:
        self.payments = payments
        self.log = log

    async def ledgers(self) -> Sequence[GatewayLedger]:
        self.log.append("gateways")
        return ledgers(*self.payments)


class FakeStream:
    def __init__(self, events: Sequence[StreamEvent] | Exception, log: list[str]) -> None:
        self.result = events
        self.log = log

    async def events(self) -> Sequence[StreamEvent]:
        self.log.append("events")
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


def run(use_case: CheckInvariants) -> CheckReport:
    return asyncio.run(use_case.execute())


def test_every_source_sound_means_ok() -> None:
    log: list[str] = []
    use_case = CheckInvariants(
        FakeDatabase(records=[tx("t1")], log=log),
        FakeLedgers([paid("t1:1")], log),
        FakeStream(stream(("t1", 1), ("t1", 2), ("t1", 3)), log),
    )
    report = run(use_case)
    assert report.ok
    assert report.violations == ()
    assert report.invariants == (*DATABASE_INVARIANTS, *GATEWAY_INVARIANTS, *EVENT_INVARIANTS)
    assert report.counts == {"transactions": 1, "gateway_payments": 1, "kafka_events": 3}
    # Gateways before the database, the stream last: see the module docstring.
    assert log == ["gateways", "database.check", "database.transactions", "events"]


def test_without_optional_sources_only_the_database_is_checked() -> None:
    log: list[str] = []
    report = run(CheckInvariants(FakeDatabase(log=log), skipped=["kafka (not configured)"]))
    assert report.ok
    assert report.invariants == tuple(DATABASE_INVARIANTS)
    assert report.skipped == ("kafka (not configured)",)
    assert log == ["database.check"]  # no snapshot needed without a cross-check


def test_violations_from_every_source_are_collected_not_short_circuited() -> None:
    log: list[str] = []
    broken = Violation("ledger.journal_balanced", "journal 7 sums to 1", "t1")
    use_case = CheckInvariants(
        FakeDatabase([broken], [tx("t1")], log),
        FakeLedgers([], log),  # completed, but the gateway has nothing
        FakeStream(stream(("t1", 1), ("t1", 3), ("t1", 2)), log),
    )
    report = run(use_case)
    assert not report.ok
    assert report.failed() == {
        "ledger.journal_balanced": 1,
        "gateway.outcome_matches": 1,
        "kafka.in_order": 1,
    }
    body = report.to_dict()
    assert body["ok"] is False
    assert body["invariants"]["kafka.in_order"] == 1
    assert body["invariants"]["ledger.non_negative"] == 0
    assert {"invariant": "ledger.journal_balanced", "detail": "journal 7 sums to 1",
            "transaction_id": "t1"} in body["violations"]  # fmt: skip
    json.dumps(body)  # serialisable as is


def test_an_unreadable_stream_fails_the_check_loudly() -> None:
    log: list[str] = []
    use_case = CheckInvariants(
        FakeDatabase(log=log), None, FakeStream(SourceUnavailable("kafka x: no broker"), log)
    )
    report = run(use_case)
    assert report.failed() == {"kafka.readable": 1}
    assert "no broker" in report.violations[0].detail


def test_since_reaches_both_cross_checks() -> None:
    log: list[str] = []
    old = tx("old", created_at=T0 - timedelta(hours=1))
    use_case = CheckInvariants(FakeDatabase(records=[old], log=log), FakeLedgers([], log))
    assert not run(use_case).ok
    use_case = CheckInvariants(
        FakeDatabase(records=[old], log=log), FakeLedgers([], log), FakeStream([], log), since=T0
    )
    assert run(use_case).ok
    assert not run(
        CheckInvariants(FakeDatabase(records=[old], log=log), None, FakeStream([], log))
    ).ok


def test_the_readable_report_names_each_invariant_and_its_violations() -> None:
    report = CheckReport(
        violations=(Violation("ledger.balance_matches_postings", "account 3 has 5", None),),
        counts={"transactions": 4, "user_accounts": 2},
        invariants=tuple(DATABASE_INVARIANTS),
        skipped=("kafka (--no-kafka)",),
    )
    text = render(report)
    assert text.splitlines()[0] == "payments check: FAILED, 1 violation(s) of 1 invariant(s)"
    assert "checked: transactions 4, user accounts 2" in text
    assert "skipped: kafka (--no-kafka)" in text
    assert "FAIL (1)   ledger.balance_matches_postings" in text
    assert "ok         ledger.journal_balanced" in text
    assert "  - account 3 has 5" in text
    ok = render(replace(report, violations=()))
    assert ok.splitlines()[0] == "payments check: OK, all invariants hold"
