from datetime import UTC, datetime, timedelta

import pytest

from domain.errors import IllegalTransition
from domain.money import Money
from domain.transaction import AttemptOutcome, Transaction, TransactionStatus, TransactionType

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def new_tx() -> Transaction:
    return Transaction.create(
        transaction_id="tx-1",
        type=TransactionType.DEPOSIT,
        user_id=1,
        money=Money.parse("10.00", "USD"),
        now=T0,
    )


def accept(tx: Transaction) -> None:
    attempt = tx.begin_attempt("paypal", T0)
    tx.settle_attempt(attempt.number, AttemptOutcome.ACCEPTED, latency_ms=3)
    tx.mark_processing(
        gateway_id="paypal", reference_id="PP-1", redirect_url=None, message="ok", now=T0
    )


def test_a_new_transaction_is_pending_at_version_one_with_a_created_event() -> None:
    tx = new_tx()
    assert tx.status is TransactionStatus.PENDING
    assert tx.version == 1
    assert [e.type for e in tx.events] == ["transaction.created"]


def test_attempt_references_number_the_attempts_of_the_transaction() -> None:
    tx = new_tx()
    first = tx.begin_attempt("paypal", T0)
    tx.settle_attempt(1, AttemptOutcome.NOT_SENT, latency_ms=1)
    second = tx.begin_attempt("stripe", T0)
    assert (first.reference, second.reference) == ("tx-1:1", "tx-1:2")
    assert first.outcome is AttemptOutcome.NOT_SENT
    assert second.outcome is AttemptOutcome.IN_FLIGHT


def test_an_attempt_is_settled_once() -> None:
    tx = new_tx()
    tx.begin_attempt("paypal", T0)
    tx.settle_attempt(1, AttemptOutcome.TRANSIENT, latency_ms=1)
    with pytest.raises(IllegalTransition):
        tx.settle_attempt(1, AttemptOutcome.ACCEPTED, latency_ms=1)


def test_every_transition_bumps_the_version_and_records_an_event() -> None:
    tx = new_tx()
    accept(tx)
    assert (tx.status, tx.version, tx.gateway_id) == (TransactionStatus.PROCESSING, 2, "paypal")
    assert tx.complete(message="paid", now=T0 + timedelta(seconds=1))
    assert (tx.status, tx.version) == (TransactionStatus.COMPLETED, 3)
    events = tx.pull_events()
    assert [(e.type, e.version) for e in events] == [
        ("transaction.created", 1),
        ("transaction.processing", 2),
        ("transaction.completed", 3),
    ]
    assert events[-1].data["status"] == "completed"
    assert tx.pull_events() == []


def test_terminal_states_never_change() -> None:
    tx = new_tx()
    accept(tx)
    tx.complete(message="paid", now=T0)
    with pytest.raises(IllegalTransition):
        tx.fail(message="late failure", now=T0)
    failed = new_tx()
    failed.fail(message="no gateway", now=T0)
    with pytest.raises(IllegalTransition):
        failed.complete(message="late success", now=T0)


def test_a_repeated_terminal_transition_is_a_no_op() -> None:
    tx = new_tx()
    accept(tx)
    tx.complete(message="paid", now=T0)
    assert tx.complete(message="paid again", now=T0) is False
    assert tx.version == 3


def test_pending_cannot_complete_without_a_gateway_accepting() -> None:
    with pytest.raises(IllegalTransition):
        new_tx().complete(message="?", now=T0)


def test_no_gateway_call_once_the_transaction_left_pending() -> None:
    tx = new_tx()
    accept(tx)
    with pytest.raises(IllegalTransition):
        tx.begin_attempt("stripe", T0)


def test_settle_completes_a_processing_transaction_once() -> None:
    tx = new_tx()
    accept(tx)
    assert tx.settle(TransactionStatus.COMPLETED, message="paid", now=T0) == "applied"
    assert tx.settle(TransactionStatus.COMPLETED, message="paid", now=T0) == "duplicate"
    assert tx.status is TransactionStatus.COMPLETED
    assert tx.version == 3


def test_settle_flags_a_contradiction_and_changes_nothing() -> None:
    tx = new_tx()
    accept(tx)
    tx.settle(TransactionStatus.FAILED, message="refused", now=T0)
    assert tx.settle(TransactionStatus.COMPLETED, message="paid?", now=T0) == "contradiction"
    assert (tx.status, tx.version) == (TransactionStatus.FAILED, 3)


def test_settle_accepts_a_pending_transaction_the_gateway_already_finished() -> None:
    tx = new_tx()
    tx.begin_attempt("paypal", T0)
    assert tx.settle(TransactionStatus.COMPLETED, message="paid", now=T0, reference_id="PP-9") == (
        "applied"
    )
    assert (tx.status, tx.gateway_id, tx.reference_id) == (
        TransactionStatus.COMPLETED,
        "paypal",
        "PP-9",
    )
    assert [e.type for e in tx.pull_events()] == [
        "transaction.created",
        "transaction.processing",
        "transaction.completed",
    ]


def test_settle_refuses_a_transaction_no_gateway_was_asked_about() -> None:
    tx = new_tx()
    assert tx.settle(TransactionStatus.COMPLETED, message="?", now=T0) == "contradiction"
    assert tx.status is TransactionStatus.PENDING


def test_settle_only_takes_final_statuses() -> None:
    with pytest.raises(IllegalTransition):
        new_tx().settle(TransactionStatus.PROCESSING, message="?", now=T0)


# -- which attempt a gateway's final word may settle ----------------------------------
def test_the_current_attempt_is_the_one_at_the_gateway_that_accepted() -> None:
    tx = new_tx()
    assert tx.current_attempt() is None
    tx.begin_attempt("paypal", T0)
    tx.settle_attempt(1, AttemptOutcome.AMBIGUOUS, latency_ms=1)
    accepted = tx.begin_attempt("stripe", T0)
    assert tx.current_attempt() is accepted  # still in flight: the last one asked
    tx.settle_attempt(2, AttemptOutcome.ACCEPTED, latency_ms=1)
    tx.mark_processing(
        gateway_id="stripe", reference_id="ST-1", redirect_url=None, message="ok", now=T0
    )
    assert tx.current_attempt() is accepted


def test_the_accepted_attempts_reference_amount_and_currency_settle() -> None:
    tx = new_tx()
    accept(tx)
    assert tx.check_settlement("PP-1", 1000, "USD") is None


def test_another_gateway_reference_does_not_settle() -> None:
    tx = new_tx()
    accept(tx)
    for reference in ("PP-2", None, "pp-1", "PP-1 "):
        mismatch = tx.check_settlement(reference, 1000, "USD")
        assert mismatch is not None
        assert mismatch.kind == "reference"
        assert "PP-1" in mismatch.detail


@pytest.mark.parametrize(("amount", "currency"), [(999, "USD"), (1000, "EUR"), (100000, "JPY")])
def test_another_amount_or_currency_does_not_settle(amount: int, currency: str) -> None:
    tx = new_tx()
    accept(tx)
    mismatch = tx.check_settlement("PP-1", amount, currency)
    assert mismatch is not None
    assert mismatch.kind == "amount"
    assert "amount mismatch" in mismatch.detail


def test_an_amount_or_currency_the_gateway_does_not_state_is_not_checked() -> None:
    tx = new_tx()
    accept(tx)
    assert tx.check_settlement("PP-1", None, None) is None
    assert tx.check_settlement("PP-1", None, "USD") is None
    mismatch = tx.check_settlement("PP-1", None, "EUR")
    assert mismatch is not None
    assert mismatch.kind == "amount"


def test_any_reference_is_taken_until_the_gateways_own_is_known() -> None:
    # The gateway's answer is still on its way (or was lost): its callback is
    # the first word about the payment's reference, and settle adopts it.
    tx = new_tx()
    tx.begin_attempt("paypal", T0)
    assert tx.check_settlement("PP-7", 1000, "USD") is None
    mismatch = tx.check_settlement("PP-7", 1001, "USD")
    assert mismatch is not None
    assert mismatch.kind == "amount"
