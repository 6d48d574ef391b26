"""Ledger over PostgreSQL: journals, postings and guarded balances.

The balance check and update are one statement per posting: a debit is an
``UPDATE ... WHERE balance + amount >= 0``, whose row lock serialises
concurrent withdrawals of one user; the non-negative CHECK constraint stays
as a second line of defence.
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

# A credit creates the account on first use.
CREDIT_USER = """
INSERT INTO ledger_accounts (user_id, currency, kind, balance_minor)
VALUES (%(user_id)s, %(currency)s, %(kind)s, %(amount)s)
ON CONFLICT (user_id, currency, kind) WHERE user_id IS NOT NULL
DO UPDATE SET balance_minor = ledger_accounts.balance_minor + EXCLUDED.balance_minor
RETURNING id
"""

# A debit only touches a row that covers it; no row back means not enough.
# The row lock taken here makes check-and-debit atomic across requests.
DEBIT_USER = """
UPDATE ledger_accounts SET balance_minor = balance_minor + %(amount)s
WHERE user_id = %(user_id)s AND currency = %(currency)s AND kind = %(kind)s
  AND balance_minor + %(amount)s >= 0
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
            params = {
                "user_id": account.user_id,
                "currency": account.currency,
                "kind": account.kind.value,
                "amount": posting.amount_minor,
            }
            await cur.execute(CREDIT_USER if posting.amount_minor > 0 else DEBIT_USER, params)
        row = await cur.fetchone()
        if row is None:
            # The unit of work rolls back: a refused withdrawal leaves no
            # transaction behind, so no transaction id is reported.
            raise InsufficientFunds(
                f"insufficient {account.kind.value} balance in {account.currency}"
            )
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
