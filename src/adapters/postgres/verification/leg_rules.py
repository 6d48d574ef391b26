"""The closed-loop legs' invariants in SQL (domain/closed_loop.py, application/legs.py).

Legs book no journal of their own (ledger_rules.py checks that with every
other kind); what is left: a leg belongs to a withdrawal of the same user and
currency that is not itself a leg; the legs not failed never add up to more
than the parent asked; a completed parent's legs not failed are all completed
and add up to exactly its amount; a failed parent has no completed leg.
"""

from __future__ import annotations

from adapters.postgres.verification.rule import Row, Rule
from application.verification.report import Violation
from domain.money import Money

LEGS_WITHIN_PARENT = """
SELECT p.id::text, p.type, p.status, p.amount_minor, p.currency,
       p.parent_transaction_id IS NOT NULL AS nested,
       count(l.id) FILTER (WHERE l.user_id <> p.user_id OR l.currency <> p.currency),
       coalesce(sum(l.amount_minor) FILTER (WHERE l.status <> 'failed'), 0)::bigint,
       count(l.id) FILTER (WHERE l.status NOT IN ('failed', 'completed')),
       count(l.id) FILTER (WHERE l.status = 'completed')
FROM transactions l
JOIN transactions p ON p.id = l.parent_transaction_id
WHERE l.type = 'withdrawal'
GROUP BY p.id
HAVING p.type <> 'withdrawal' OR p.parent_transaction_id IS NOT NULL
    OR count(l.id) FILTER (WHERE l.user_id <> p.user_id OR l.currency <> p.currency) > 0
    OR coalesce(sum(l.amount_minor) FILTER (WHERE l.status <> 'failed'), 0) > p.amount_minor
    OR (p.status = 'completed' AND (
        count(l.id) FILTER (WHERE l.status NOT IN ('failed', 'completed')) > 0
        OR coalesce(sum(l.amount_minor) FILTER (WHERE l.status <> 'failed'), 0)
           <> p.amount_minor))
    OR (p.status = 'failed' AND count(l.id) FILTER (WHERE l.status = 'completed') > 0)
ORDER BY p.id
"""


def _within_parent(row: Row) -> Violation:
    parent_id, type_, status, amount, currency, nested, foreign, placed, open_, done = row
    if type_ != "withdrawal" or nested:
        why = f"legs point at a {type_} that is {'a leg itself' if nested else 'no withdrawal'}"
    elif foreign:
        why = f"{foreign} leg(s) of another user or currency"
    elif status == "failed":
        why = f"the withdrawal failed but {done} of its legs completed"
    else:
        why = (
            f"{status} withdrawal of {Money.format_minor(amount, currency)} {currency} has legs "
            f"of {Money.format_minor(placed, currency)} not failed, {open_} still open"
        )
    return Violation("legs.within_parent", why, parent_id)


RULES: tuple[Rule, ...] = ((LEGS_WITHIN_PARENT, _within_parent),)
