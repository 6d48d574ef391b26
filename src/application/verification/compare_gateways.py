"""Our records against the gateways' own ledgers: a pure comparison."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime

from application.verification.records import (
    AttemptRecord,
    GatewayLedger,
    GatewayPayment,
    TransactionRecord,
)
from application.verification.report import Violation
from domain.errors import InvalidInput
from domain.money import Money
from domain.transaction import AttemptOutcome, TransactionStatus


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
    elif tx.status is TransactionStatus.COMPLETED and not tx.has_legs:
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
