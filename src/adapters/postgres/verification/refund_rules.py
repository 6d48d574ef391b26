"""The refunds' invariants in SQL: each query returns only the offending rows.

The journals a refund books (hold, payout, release) are checked with every
other kind by ledger_rules.py, from domain.ledger's table; what is left is
the rule of domain/refunds.py: a refund gives back part of a completed
deposit, of that deposit's user and currency, and the refunds that may still
move money (those not failed) never add up to more than the deposit.
"""

from __future__ import annotations

from adapters.postgres.verification.rule import Row, Rule
from application.verification.report import Violation
from domain.money import Money

REFUNDS_WITHIN_DEPOSIT = """
SELECT d.id::text, d.type, d.status, d.amount_minor, d.currency,
       count(r.id) FILTER (WHERE r.user_id <> d.user_id OR r.currency <> d.currency),
       coalesce(sum(r.amount_minor) FILTER (WHERE r.status <> 'failed'), 0)::bigint
FROM transactions r
JOIN transactions d ON d.id = r.parent_transaction_id
WHERE r.type = 'refund'
GROUP BY d.id
HAVING d.type <> 'deposit' OR d.status <> 'completed'
    OR count(r.id) FILTER (WHERE r.user_id <> d.user_id OR r.currency <> d.currency) > 0
    OR coalesce(sum(r.amount_minor) FILTER (WHERE r.status <> 'failed'), 0) > d.amount_minor
ORDER BY d.id
"""


def _within_deposit(row: Row) -> Violation:
    deposit_id, type_, status, amount_minor, currency, foreign, refunded = row
    if type_ != "deposit" or status != "completed":
        why = f"refunds point at a {status} {type_}"
    elif foreign:
        why = f"{foreign} refund(s) of another user or currency"
    else:
        why = (
            f"refunds of {Money.format_minor(refunded, currency)} {currency} exceed the "
            f"deposit's {Money.format_minor(amount_minor, currency)}"
        )
    return Violation("refunds.within_deposit", why, deposit_id)


RULES: tuple[Rule, ...] = ((REFUNDS_WITHIN_DEPOSIT, _within_deposit),)
