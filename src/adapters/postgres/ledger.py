"""Ledger over PostgreSQL: journals, postings and guarded balances.

All journals of a commit are booked by ONE statement: the journal rows
(once per (transaction, kind): a replayed state change books nothing), the
user account balances and every posting; one statement before it creates
the accounts on first use. The no-overdraft guard is the table's own
``ledger_accounts_non_negative`` CHECK, evaluated on the updated row under its
row lock, so concurrent withdrawals of one user serialise and cannot
overspend; the deferred trigger of migration 0002 checks every journal sums
to zero at commit.
"""

from __future__ import annotations

from collections.abc import Sequence

from adapters.postgres.session import Session
from domain.ledger import AccountKind, Balance, Journal

# Every account the journals touch, created empty on first use. A statement
# of its own because PostgreSQL checks CHECK constraints on the row an INSERT
# proposes before ON CONFLICT arbitration: an upsert cannot carry a debit.
ENSURE_ACCOUNTS = """
INSERT INTO ledger_accounts (user_id, currency, kind)
SELECT DISTINCT * FROM unnest(%(user_id)s::bigint[], %(currency)s::text[], %(account_kind)s::text[])
ORDER BY 1, 2, 3
ON CONFLICT DO NOTHING
"""

# Moves are summed per account (one UPDATE per row and statement) and applied
# in account order, so two commits touching the same accounts lock them in
# the same order. The external account is never updated (its balance is the
# sum of its postings): no hot row every payment would have to lock.
POST_JOURNALS = """
WITH moves AS (
    SELECT * FROM unnest(
        %(transaction_id)s::uuid[], %(journal_kind)s::text[], %(user_id)s::bigint[],
        %(currency)s::text[], %(account_kind)s::text[], %(amount)s::bigint[])
    AS m(transaction_id, journal_kind, user_id, currency, account_kind, amount)
), journals AS (
    INSERT INTO ledger_journals (transaction_id, kind)
    SELECT DISTINCT transaction_id, journal_kind FROM moves
    ON CONFLICT ON CONSTRAINT ledger_journals_once DO NOTHING
    RETURNING id, transaction_id, kind
), booked AS (
    SELECT m.*, j.id AS journal_id, a.id AS account_id
    FROM moves m
    JOIN journals j ON j.transaction_id = m.transaction_id AND j.kind = m.journal_kind
    JOIN ledger_accounts a
      ON a.user_id IS NOT DISTINCT FROM m.user_id AND a.currency = m.currency
     AND a.kind = m.account_kind
), balances AS (
    UPDATE ledger_accounts a SET balance_minor = a.balance_minor + d.amount
    FROM (
        SELECT account_id, sum(amount) AS amount FROM booked
        WHERE user_id IS NOT NULL GROUP BY account_id ORDER BY account_id
    ) d
    WHERE a.id = d.account_id
    RETURNING a.id
)
INSERT INTO ledger_postings (journal_id, account_id, amount_minor)
SELECT journal_id, account_id, amount FROM booked
"""

SELECT_BALANCES = """
SELECT currency, kind, balance_minor FROM ledger_accounts
WHERE user_id = %(user_id)s
"""

# The constraint whose violation means "not enough money" (see module doc).
NON_NEGATIVE = "ledger_accounts_non_negative"


def queue_journals(session: Session, journals: Sequence[Journal]) -> None:
    """Queue the one statement that books all of ``journals``."""
    postings = [(j, p) for j in journals for p in j.postings]
    if not postings:
        return
    session.queue(
        ENSURE_ACCOUNTS,
        {
            "user_id": [p.account.user_id for _, p in postings],
            "currency": [p.account.currency for _, p in postings],
            "account_kind": [p.account.kind.value for _, p in postings],
        },
    )
    session.queue(
        POST_JOURNALS,
        {
            "transaction_id": [j.transaction_id for j, _ in postings],
            "journal_kind": [j.kind for j, _ in postings],
            "user_id": [p.account.user_id for _, p in postings],
            "currency": [p.account.currency for _, p in postings],
            "account_kind": [p.account.kind.value for _, p in postings],
            "amount": [p.amount_minor for _, p in postings],
        },
    )


class PostgresLedger:
    """Ledger port: journals are booked by the unit of work at commit."""

    def __init__(self, session: Session) -> None:
        self._session = session

    async def post(self, journal: Journal) -> None:
        """Book the journal with this unit of work's commit (replays book nothing).

        The commit raises InsufficientFunds when a user account would go
        below zero.
        """
        queue_journals(self._session, [journal])

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
