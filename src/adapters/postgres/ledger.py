"""Ledger over PostgreSQL: journals, postings and guarded balances.

All journals of a commit are booked within the commit's ONE statement
(write_path.py): the journal rows (once per (transaction, kind): a replayed
state change books nothing), the user account balances and every posting.
The no-overdraft rule is the domain's (domain/funds.py: a user account never
ends a commit below zero, the commit's moves netted per account); here the
database enforces it itself: the table's own ``ledger_accounts_non_negative``
CHECK, evaluated on the updated row under its row lock, so concurrent
withdrawals of one user serialise and cannot overspend, and ``FUNDS_GUARD``
for a debit of an account that does not exist. The deferred trigger of
migration 0002 checks every journal sums to zero at commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from adapters.postgres.session import Session
from domain.ledger import AccountKind, Balance, Journal

# The journals of a commit as CTEs of the commit's one statement (see
# write_path.py). Moves are netted per account, because one statement may
# touch a row only once. ``locked`` takes the row locks of every existing
# account the commit touches, in account order, before either the credits or
# the debits run (both wait for it): two commits that touch the same accounts
# lock them in the same order and cannot deadlock. Without it a hold (debit
# available, credit held) and a settlement of the same user (credit
# available, debit held) locked the two rows in opposite orders: a deadlock,
# answered 409 to a client (tests/integration/test_concurrency.py).
# - an account seen for the first time is created by the credit's upsert;
# - a net credit is an upsert;
# - a net debit is a plain UPDATE: the ``ledger_accounts_non_negative`` CHECK
#   on the updated row, under its row lock, is the no-overdraft guard, and a
#   debit of an account that does not exist matches no row, which the guard
#   in the final SELECT reports the same way (PostgreSQL checks CHECK
#   constraints on the row an INSERT proposes before ON CONFLICT arbitration,
#   so an upsert cannot carry a debit);
# - the external clearing account is never updated (its balance is the sum
#   of its postings): no hot row that every payment would have to lock.
JOURNAL_CTES = """moves AS (
    SELECT * FROM jsonb_to_recordset(%(moves)s::jsonb) AS m(
        transaction_id uuid, journal_kind text, user_id bigint, currency text,
        account_kind text, amount bigint)
), journals AS (
    INSERT INTO ledger_journals (transaction_id, kind)
    SELECT DISTINCT transaction_id, journal_kind FROM moves
    ON CONFLICT ON CONSTRAINT ledger_journals_once DO NOTHING
    RETURNING id, transaction_id, kind
), booked AS (
    SELECT m.*, j.id AS journal_id
    FROM moves m
    JOIN journals j ON j.transaction_id = m.transaction_id AND j.kind = m.journal_kind
), nets AS (
    SELECT user_id, currency, account_kind, sum(amount) AS amount FROM booked
    WHERE user_id IS NOT NULL
    GROUP BY user_id, currency, account_kind
), locked AS (
    SELECT a.id FROM ledger_accounts a
    JOIN nets n ON a.user_id = n.user_id AND a.currency = n.currency AND a.kind = n.account_kind
    ORDER BY a.user_id, a.currency, a.kind
    FOR UPDATE OF a
), credited AS (
    INSERT INTO ledger_accounts (user_id, currency, kind, balance_minor)
    SELECT user_id, currency, account_kind, amount FROM nets
    WHERE amount >= 0 AND (SELECT count(*) FROM locked) >= 0
    ORDER BY user_id, currency, account_kind
    ON CONFLICT (user_id, currency, kind) WHERE user_id IS NOT NULL
    DO UPDATE SET balance_minor = ledger_accounts.balance_minor + EXCLUDED.balance_minor
    RETURNING id, user_id, currency, kind
), debited AS (
    UPDATE ledger_accounts a SET balance_minor = a.balance_minor + n.amount
    FROM (SELECT * FROM nets WHERE amount < 0 AND (SELECT count(*) FROM locked) >= 0) n
    WHERE a.user_id = n.user_id AND a.currency = n.currency AND a.kind = n.account_kind
    RETURNING a.id, a.user_id, a.currency, a.kind
), external_created AS (
    INSERT INTO ledger_accounts (user_id, currency, kind)
    SELECT DISTINCT NULL::bigint, currency, 'external' FROM booked WHERE user_id IS NULL
    ON CONFLICT (currency) WHERE user_id IS NULL DO NOTHING
    RETURNING id, user_id, currency, kind
), touched AS (
    SELECT * FROM credited
    UNION ALL SELECT * FROM debited
    UNION ALL SELECT * FROM external_created
    UNION ALL
    SELECT id, user_id, currency, kind FROM ledger_accounts
    WHERE user_id IS NULL AND currency IN (SELECT currency FROM booked WHERE user_id IS NULL)
), postings AS (
    INSERT INTO ledger_postings (journal_id, account_id, amount_minor)
    SELECT b.journal_id, t.id, b.amount
    FROM booked b JOIN touched t
      ON t.user_id IS NOT DISTINCT FROM b.user_id AND t.currency = b.currency
     AND t.kind = b.account_kind
)"""

# Every net debit found its account (else: not enough money, as the CHECK says).
# The database's enforcement of domain/funds.py's rule, with the CHECK above;
# payments_expect_funds is defined in migration 0005.
FUNDS_GUARD = (
    "payments_expect_funds((SELECT count(*) FROM debited),"
    " (SELECT count(*) FROM nets WHERE amount < 0))"
)

SELECT_BALANCES = """
SELECT currency, kind, balance_minor FROM ledger_accounts
WHERE user_id = %(user_id)s
"""

# The constraint whose violation means "not enough money" (see module doc).
NON_NEGATIVE = "ledger_accounts_non_negative"


def journal_ctes() -> tuple[str, str]:
    """The CTEs booking a commit's journals, and the guard its final SELECT runs."""
    return JOURNAL_CTES, FUNDS_GUARD


def journal_rows(journals: Sequence[Journal]) -> list[dict[str, Any]]:
    """One row per posting: the CTEs' ``moves``."""
    return [
        {
            "transaction_id": j.transaction_id,
            "journal_kind": j.kind,
            "user_id": p.account.user_id,
            "currency": p.account.currency,
            "account_kind": p.account.kind.value,
            "amount": p.amount_minor,
        }
        for j in journals
        for p in j.postings
    ]


class PostgresLedger:
    """Ledger port: journals are booked by the unit of work's commit (write_path.py)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    async def balances(self, user_id: int) -> list[Balance]:
        rows = await self._session.fetch(SELECT_BALANCES, {"user_id": user_id})
        per_currency: dict[str, dict[str, int]] = {}
        for row in rows:
            per_currency.setdefault(row["currency"], {})[row["kind"]] = row["balance_minor"]
        return [
            Balance(
                c,
                v.get(AccountKind.AVAILABLE.value, 0),
                v.get(AccountKind.HELD.value, 0),
            )
            for c, v in per_currency.items()
        ]
