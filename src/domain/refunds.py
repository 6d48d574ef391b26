"""Refunds: money back to the payer of a completed deposit, never more than it brought.

A refund is a transaction of its own (``type`` refund) whose
``parent_transaction_id`` is the deposit. Only a ``completed`` deposit can be
refunded, in one go or in several parts; every refund not failed counts
against the deposit's amount (one still in flight may yet complete), so the
parts can never add up to more than the deposit. The money itself moves by
the ledger's refund journals (domain/ledger.py): held from the user's
available balance when the refund is created, paid out on confirmation,
released on failure.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from domain.errors import InvalidInput, NotRefundable, RefundExceedsPayment
from domain.money import Money
from domain.transaction import Transaction, TransactionStatus, TransactionType


def refunded_minor(refunds: Iterable[Transaction]) -> int:
    """What the gateway has given back so far: the completed refunds."""
    return sum(r.money.minor for r in refunds if r.status is TransactionStatus.COMPLETED)


def refundable_minor(deposit: Transaction, refunds: Iterable[Transaction]) -> int:
    """What is left to refund of ``deposit``; NotRefundable unless it is a completed deposit."""
    if deposit.type is not TransactionType.DEPOSIT:
        raise NotRefundable(f"a {deposit.type} cannot be refunded")
    if deposit.status is not TransactionStatus.COMPLETED:
        raise NotRefundable(
            f"only a completed deposit can be refunded; this one is {deposit.status}"
        )
    if deposit.gateway_id is None or deposit.reference_id is None:
        # A refund names the payment at the gateway that took it; without that: nothing to send.
        raise NotRefundable("the gateway's reference of this deposit is not known")
    claimed = sum(r.money.minor for r in refunds if r.status is not TransactionStatus.FAILED)
    return deposit.money.minor - claimed


def open_refund(
    deposit: Transaction,
    refunds: Iterable[Transaction],
    amount: Money | None,
    *,
    transaction_id: str,
    now: datetime,
    reason: str | None = None,
) -> Transaction:
    """A new pending refund of ``amount`` (None: all that is left) of ``deposit``.

    ``refunds`` are all the deposit's refunds so far. Raises NotRefundable,
    InvalidInput (another currency) or RefundExceedsPayment.
    """
    if reason is not None and not reason.isprintable():
        raise InvalidInput("reason must be printable text (no control characters)")
    left = refundable_minor(deposit, refunds)
    currency = deposit.money.currency.code
    if amount is not None and amount.currency.code != currency:
        raise InvalidInput(f"the deposit was in {currency}; a refund must be too")
    if left <= 0 or (amount is not None and amount.minor > left):
        remaining = Money.format_minor(max(left, 0), currency)
        raise RefundExceedsPayment(f"only {remaining} {currency} of this deposit is left to refund")
    return Transaction.create(
        transaction_id=transaction_id,
        type=TransactionType.REFUND,
        user_id=deposit.user_id,
        money=amount if amount is not None else Money.of_minor(left, currency),
        now=now,
        parent_transaction_id=deposit.id,
        message=f"Refund requested: {reason}" if reason else "Refund requested",
    )
