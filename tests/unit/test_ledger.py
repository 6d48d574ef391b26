from datetime import UTC, datetime

import pytest

from domain.errors import InvalidInput
from domain.ledger import Account, AccountKind, Journal, Posting, journals_for, journals_required
from domain.money import Money
from domain.transaction import Transaction, TransactionStatus, TransactionType

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def tx(kind: TransactionType, amount: str = "60.00") -> Transaction:
    return Transaction.create(
        transaction_id="t-1", type=kind, user_id=7, money=Money.parse(amount, "USD"), now=T0
    )


def accept(t: Transaction) -> None:
    t.begin_attempt("paypal", T0)
    t.mark_processing(gateway_id="paypal", reference_id="r", redirect_url=None, message="", now=T0)


def totals(journals: list[Journal]) -> dict[AccountKind, int]:
    out: dict[AccountKind, int] = {}
    for j in journals:
        for p in j.postings:
            out[p.account.kind] = out.get(p.account.kind, 0) + p.amount_minor
    return out


def test_a_journal_must_balance() -> None:
    a = Account(7, "USD", AccountKind.AVAILABLE)
    b = Account(None, "USD", AccountKind.EXTERNAL)
    with pytest.raises(InvalidInput, match="sum to zero"):
        Journal("t", "x", (Posting(a, 5), Posting(b, -4)))


def test_a_journal_stays_in_one_currency() -> None:
    a = Account(7, "USD", AccountKind.AVAILABLE)
    b = Account(None, "EUR", AccountKind.EXTERNAL)
    with pytest.raises(InvalidInput, match="currency"):
        Journal("t", "x", (Posting(a, 5), Posting(b, -5)))


def test_creating_a_withdrawal_holds_the_amount() -> None:
    t = tx(TransactionType.WITHDRAWAL)
    journals = journals_for(t, t.events)
    assert [j.kind for j in journals] == ["withdrawal.hold"]
    assert totals(journals) == {AccountKind.AVAILABLE: -6000, AccountKind.HELD: 6000}


def test_creating_a_deposit_moves_nothing() -> None:
    t = tx(TransactionType.DEPOSIT)
    assert journals_for(t, t.events) == []


def test_a_completed_deposit_credits_available_from_outside() -> None:
    t = tx(TransactionType.DEPOSIT, "100.00")
    accept(t)
    t.complete(message="paid", now=T0)
    journals = journals_for(t, t.pull_events())
    assert [j.kind for j in journals] == ["deposit.credit"]
    assert totals(journals) == {AccountKind.AVAILABLE: 10000, AccountKind.EXTERNAL: -10000}


def test_a_completed_withdrawal_pays_out_the_held_amount() -> None:
    t = tx(TransactionType.WITHDRAWAL)
    accept(t)
    t.complete(message="sent", now=T0)
    journals = journals_for(t, t.pull_events())
    assert totals(journals) == {
        AccountKind.AVAILABLE: -6000,
        AccountKind.HELD: 0,
        AccountKind.EXTERNAL: 6000,
    }


def test_a_failed_withdrawal_releases_the_hold() -> None:
    t = tx(TransactionType.WITHDRAWAL)
    t.fail(message="declined", now=T0)
    journals = journals_for(t, t.pull_events())
    assert [j.kind for j in journals] == ["withdrawal.hold", "withdrawal.release"]
    assert totals(journals) == {AccountKind.AVAILABLE: 0, AccountKind.HELD: 0}


def test_a_failed_deposit_moves_nothing() -> None:
    t = tx(TransactionType.DEPOSIT)
    t.fail(message="declined", now=T0)
    assert journals_for(t, t.pull_events()) == []


@pytest.mark.parametrize(
    ("kind", "status", "expected"),
    [
        (TransactionType.DEPOSIT, TransactionStatus.PENDING, ()),
        (TransactionType.DEPOSIT, TransactionStatus.PROCESSING, ()),
        (TransactionType.DEPOSIT, TransactionStatus.COMPLETED, ("deposit.credit",)),
        (TransactionType.DEPOSIT, TransactionStatus.FAILED, ()),
        (TransactionType.WITHDRAWAL, TransactionStatus.PENDING, ("withdrawal.hold",)),
        (TransactionType.WITHDRAWAL, TransactionStatus.PROCESSING, ("withdrawal.hold",)),
        (
            TransactionType.WITHDRAWAL,
            TransactionStatus.COMPLETED,
            ("withdrawal.hold", "withdrawal.payout"),
        ),
        (
            TransactionType.WITHDRAWAL,
            TransactionStatus.FAILED,
            ("withdrawal.hold", "withdrawal.release"),
        ),
    ],
)
def test_each_state_requires_the_journals_its_changes_booked(
    kind: TransactionType, status: TransactionStatus, expected: tuple[str, ...]
) -> None:
    assert journals_required(kind, status) == expected
