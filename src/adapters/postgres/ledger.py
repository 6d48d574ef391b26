"""Ledger over PostgreSQL: journals, postings and guarded balances.

The balance check and update are one statement per posting
(``INSERT ... ON CONFLICT DO UPDATE``): the row lock it takes serialises
concurrent withdrawals of one user, and the non-negative CHECK constraint
turns an overspend into an error instead of a negative balance.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import AsyncConnection

from domain.errors import InsufficientFunds
from domain.ledger import AccountKind, Balance, Journal, Posting

INSERT_JOURNAL = """
INSERT INTO ledger_journals (transaction_id, kind) VALUES (%(transaction_id)s, %(kind)s)
ON CONFLICT ON CONSTRAINT ledger_journals_once DO NOTHING
RETURNING id
"""

# Creates the account on first use; the update and its CHECK are atomic.
MOVE_USER_BALANCE = """
INSERT INTO ledger_accounts (user_id, currency, kind, balance_minor)
VALUES (%(user_id)s, %(currency)s, %(kind)s, %(amount)s)
ON CONFLICT (user_id, currency, kind) WHERE user_id IS NOT NULL
DO UPDATE SET balance_minor = ledger_accounts.balance_minor + EXCLUDED.balance_minor
RETURNING id
"""

EXTERNAL_ACCOUNT = """
WITH created AS (
    INSERT INTO ledger_accounts (user_id, currency, kind) VALUES (NULL, %(currency)s, 'external')
    ON CONFLICT (currency) WHERE user_id IS NULL DO NOTHING
    RETURNING id
)
SELECT id FROM created
UNION ALL
SELECT id FROM ledger_accounts WHERE user_id IS NULL AND currency = %(currency)s
LIMIT 1
"""

INSERT_POSTING = """
INSERT INTO ledger_postings (journal_id, account_id, amount_minor)
VALUES (%(journal_id)s, %(account_id)s, %(amount)s)
"""

SELECT_BALANCES = """
SELECT currency, kind, balance_minor FROM ledger_accounts
WHERE user_id = %(user_id)s
"""


class PostgresLedger:
    def __init__(self, conn: AsyncConnection[Any]) -> None:
        self._conn = conn

    async def post(self, journal: Journal) -> bool:
        async with self._conn.cursor() as cur:
            await cur.execute(
                INSERT_JOURNAL, {"transaction_id": journal.transaction_id, "kind": journal.kind}
            )
            row = await cur.fetchone()
            if row is None:
                return False  # booked before: a replayed state change moves nothing
            journal_id = row[0]
            # A fixed order (debits first, then by account) keeps two journals of
            # one user from locking the same rows in opposite orders.
            for posting in sorted(journal.postings, key=lambda p: (p.amount_minor > 0, p.account)):
                account_id = await self._move(cur, posting)
                await cur.execute(
                    INSERT_POSTING,
                    {
                        "journal_id": journal_id,
                        "account_id": account_id,
                        "amount": posting.amount_minor,
                    },
                )
        return True

    async def _move(self, cur: psycopg.AsyncCursor[Any], posting: Posting) -> int:
        account = posting.account
        if account.kind is AccountKind.EXTERNAL:
            await cur.execute(EXTERNAL_ACCOUNT, {"currency": account.currency})
        else:
            try:
                await cur.execute(
                    MOVE_USER_BALANCE,
                    {
                        "user_id": account.user_id,
                        "currency": account.currency,
                        "kind": account.kind.value,
                        "amount": posting.amount_minor,
                    },
                )
            except psycopg.errors.CheckViolation as exc:
                # The whole unit of work rolls back: a refused withdrawal leaves
                # no transaction behind, so no transaction id is reported.
                raise InsufficientFunds(
                    f"insufficient {account.kind.value} balance in {account.currency}"
                ) from exc
        row = await cur.fetchone()
        assert row is not None
        return int(row[0])

    async def balances(self, user_id: int) -> list[Balance]:
        async with self._conn.cursor() as cur:
            await cur.execute(SELECT_BALANCES, {"user_id": user_id})
            rows = await cur.fetchall()
        per_currency: dict[str, dict[str, int]] = {}
        for currency, kind, balance in rows:
            per_currency.setdefault(currency, {})[kind] = balance
        return [
            Balance(c, v.get("available", 0), v.get("held", 0)) for c, v in per_currency.items()
        ]
