"""The ledger's invariants in SQL: each query returns only the offending rows.

What each journal kind moves, and which journals each transaction state
requires, is not repeated here: ``PARAMS`` hands domain.ledger's table to the
queries, so the booking and the check read one rule.
"""

from __future__ import annotations

from typing import Any

from psycopg.types.json import Jsonb

from adapters.postgres.verification.rule import Row, Rule
from application.verification.report import Violation
from domain.ledger import JOURNAL_RULES, journals_required
from domain.money import Money
from domain.transaction import TransactionStatus, TransactionType

PARAMS: dict[str, Any] = {
    "journal_rules": Jsonb(
        [
            {
                "kind": rule.kind,
                "tx_type": rule.type.value,
                "debit": rule.debit.value,
                "credit": rule.credit.value,
            }
            for rule in JOURNAL_RULES
        ]
    ),
    "journals_per_state": Jsonb(
        [
            {"type": type_.value, "status": status.value, "kinds": journals_required(type_, status)}
            for type_ in TransactionType
            for status in TransactionStatus
        ]
    ),
}

JOURNAL_UNBALANCED = """
SELECT j.id, j.transaction_id::text, j.kind, coalesce(sum(p.amount_minor), 0)::bigint
FROM ledger_journals j
LEFT JOIN ledger_postings p ON p.journal_id = j.id
GROUP BY j.id
HAVING coalesce(sum(p.amount_minor), 0) <> 0
ORDER BY j.id
"""

# Which accounts each journal kind moves money between: domain.ledger's
# JOURNAL_RULES, passed in as %(journal_rules)s (see PARAMS).
JOURNAL_SHAPE = """
WITH expected AS (
    SELECT * FROM jsonb_to_recordset(%(journal_rules)s)
        AS e(kind text, tx_type text, debit text, credit text)
), postings AS (
    -- owner_ok: the transaction's user's account, or the external one.
    SELECT p.journal_id, p.amount_minor, a.kind, a.currency,
           a.user_id IS NOT DISTINCT FROM
               CASE WHEN a.kind = 'external' THEN NULL ELSE t.user_id END
               AND a.currency = t.currency AS owner_ok
    FROM ledger_postings p
    JOIN ledger_accounts a ON a.id = p.account_id
    JOIN ledger_journals j ON j.id = p.journal_id
    JOIN transactions t ON t.id = j.transaction_id
), shapes AS (
    SELECT j.id, j.transaction_id::text AS tx_id, j.kind, t.type AS tx_type,
           count(p.journal_id) AS postings,
           coalesce(e.tx_type = t.type, false) AS known,
           count(*) FILTER (WHERE p.owner_ok AND p.kind = e.debit
                              AND p.amount_minor = -t.amount_minor) AS debits,
           count(*) FILTER (WHERE p.owner_ok AND p.kind = e.credit
                              AND p.amount_minor = t.amount_minor) AS credits
    FROM ledger_journals j
    JOIN transactions t ON t.id = j.transaction_id
    LEFT JOIN expected e ON e.kind = j.kind
    LEFT JOIN postings p ON p.journal_id = j.id
    GROUP BY j.id, t.id, e.kind, e.tx_type, e.debit, e.credit
)
SELECT id, tx_id, kind, tx_type, postings, known, debits, credits FROM shapes
WHERE NOT (known AND postings = 2 AND debits = 1 AND credits = 1)
ORDER BY id
"""

NEGATIVE_BALANCE = """
SELECT id, user_id, currency, kind, balance_minor FROM ledger_accounts
WHERE kind <> 'external' AND balance_minor < 0
ORDER BY id
"""

# The external account's balance_minor is not maintained (it is the sum of
# its postings by design), so only user accounts are compared.
BALANCE_VS_POSTINGS = """
SELECT a.id, a.user_id, a.currency, a.kind, a.balance_minor, coalesce(p.total, 0)::bigint
FROM ledger_accounts a
LEFT JOIN (SELECT account_id, sum(amount_minor) AS total
           FROM ledger_postings GROUP BY account_id) p ON p.account_id = a.id
WHERE a.kind <> 'external' AND a.balance_minor <> coalesce(p.total, 0)
ORDER BY a.id
"""

# Jepsen's bank check: money only moves, so what users hold equals what
# came in through the external (gateway clearing) account.
MONEY_CONSERVED = """
SELECT currency, sum(amount)::bigint, sum(amount) FILTER (WHERE source = 'users')::bigint
FROM (
    SELECT currency, balance_minor AS amount, 'users' AS source
    FROM ledger_accounts WHERE kind <> 'external'
    UNION ALL
    SELECT a.currency, p.amount_minor, 'external'
    FROM ledger_postings p JOIN ledger_accounts a ON a.id = p.account_id
    WHERE a.kind = 'external'
) movements
GROUP BY currency
HAVING sum(amount) <> 0
ORDER BY currency
"""

HELD_VS_OPEN_WITHDRAWALS = """
WITH held AS (
    SELECT user_id, currency, balance_minor FROM ledger_accounts WHERE kind = 'held'
), open AS (
    SELECT user_id, currency, sum(amount_minor) AS total, count(*) AS n
    FROM transactions
    -- Refunds hold like withdrawals (domain/ledger.py refund.hold).
    WHERE type IN ('withdrawal', 'refund') AND status IN ('pending', 'processing')
      -- A closed-loop leg is part of its parent's hold (domain.ledger.is_leg).
      AND NOT (type = 'withdrawal' AND parent_transaction_id IS NOT NULL)
    GROUP BY user_id, currency
)
SELECT coalesce(h.user_id, o.user_id), coalesce(h.currency, o.currency),
       coalesce(h.balance_minor, 0), coalesce(o.total, 0)::bigint, coalesce(o.n, 0)
FROM held h FULL JOIN open o ON o.user_id = h.user_id AND o.currency = h.currency
WHERE coalesce(h.balance_minor, 0) <> coalesce(o.total, 0)
ORDER BY 1, 2
"""

# The journal kinds each (type, status) requires: domain.ledger's
# journals_required, passed in as %(journals_per_state)s (see PARAMS).
JOURNALS_PER_STATE = """
WITH kinds AS (
    SELECT t.id, t.type, t.status,
           (t.type = 'withdrawal' AND t.parent_transaction_id IS NOT NULL) AS leg,
           coalesce(array_agg(j.kind ORDER BY j.kind COLLATE "C")
                    FILTER (WHERE j.id IS NOT NULL), '{}') AS kinds
    FROM transactions t LEFT JOIN ledger_journals j ON j.transaction_id = t.id
    GROUP BY t.id
), expected AS (
    SELECT e.type, e.status,
           ARRAY(SELECT k.kind FROM jsonb_array_elements_text(e.kinds) WITH ORDINALITY
                 AS k(kind, n) ORDER BY k.n) AS kinds
    FROM jsonb_to_recordset(%(journals_per_state)s) AS e(type text, status text, kinds jsonb)
)
SELECT k.id::text, k.type, k.status, k.kinds, coalesce(e.kinds, '{}') FROM kinds k
-- A closed-loop leg books nothing (domain.ledger.is_leg).
LEFT JOIN expected e ON e.type = k.type AND e.status = k.status AND NOT k.leg
WHERE k.kinds <> coalesce(e.kinds, '{}')
ORDER BY k.id
"""


def _amount(minor: int, currency: str) -> str:
    return f"{Money.format_minor(minor, currency)} {currency}"


def _account(row: Row) -> str:
    account_id, user_id, currency, kind = row[:4]
    return f"account {account_id} (user {user_id} {kind} {currency})"


def _journal_unbalanced(row: Row) -> Violation:
    journal_id, tx_id, kind, total = row
    return Violation(
        "ledger.journal_balanced",
        f"journal {journal_id} ({kind}) sums to {total}, not 0",
        tx_id,
    )


def _journal_shape(row: Row) -> Violation:
    journal_id, tx_id, kind, tx_type, postings, known, debits, credits = row
    if not known:
        why = f"a {kind} journal cannot belong to a {tx_type}"
    else:
        why = (
            f"{postings} posting(s), {debits} matching debit(s) and {credits} matching "
            "credit(s) of the transaction's amount; expected exactly one of each"
        )
    return Violation("ledger.journal_shape", f"journal {journal_id} ({kind}): {why}", tx_id)


def _negative(row: Row) -> Violation:
    return Violation("ledger.non_negative", f"{_account(row)} is at {row[4]}")


def _balance_vs_postings(row: Row) -> Violation:
    return Violation(
        "ledger.balance_matches_postings",
        f"{_account(row)} has balance {row[4]} but its postings sum to {row[5]}",
    )


def _not_conserved(row: Row) -> Violation:
    currency, total, users = row
    return Violation(
        "ledger.money_conserved",
        f"{currency}: user balances ({users or 0}) and the external account's postings "
        f"sum to {total}, not 0",
    )


def _held(row: Row) -> Violation:
    user_id, currency, held, open_total, open_count = row
    return Violation(
        "ledger.held_matches_open_withdrawals",
        f"user {user_id} holds {_amount(held, currency)} but has {open_count} open "
        f"withdrawal(s) and refund(s) of {_amount(open_total, currency)}",
    )


def _journals_per_state(row: Row) -> Violation:
    tx_id, tx_type, status, kinds, expected = row
    return Violation(
        f"ledger.{tx_type}_journals",
        f"{status} {tx_type} has journals [{', '.join(kinds)}], expected [{', '.join(expected)}]",
        tx_id,
    )


RULES: tuple[Rule, ...] = (
    (JOURNAL_UNBALANCED, _journal_unbalanced),
    (JOURNAL_SHAPE, _journal_shape),
    (NEGATIVE_BALANCE, _negative),
    (BALANCE_VS_POSTINGS, _balance_vs_postings),
    (MONEY_CONSERVED, _not_conserved),
    (HELD_VS_OPEN_WITHDRAWALS, _held),
    (JOURNALS_PER_STATE, _journals_per_state),
)
