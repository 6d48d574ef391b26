"""InvariantDatabase over PostgreSQL: every SQL rule, then the snapshot.

Every query returns only offending rows, so a healthy database answers with
nothing but counts; all of them run in one REPEATABLE READ, READ ONLY
transaction, so they see one consistent state even while the service runs.
The schema already enforces some of these (CHECK, UNIQUE, the deferred
journal trigger); they are checked anyway, because a constraint dropped in a
migration, a trigger disabled for maintenance or a manual fix would
otherwise go unnoticed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from adapters.messages import TRANSACTIONS_TOPIC
from adapters.postgres.verification import ledger_rules, leg_rules, record_rules, refund_rules
from adapters.postgres.verification.rule import Row, Rule
from adapters.postgres.verification.snapshot import TRANSACTION_RECORDS, to_record
from application.verification.catalog import REFUND_FLAGS
from application.verification.records import DatabaseFindings, TransactionRecord
from application.verification.report import Violation

SNAPSHOT = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"

COUNTS = """
SELECT
    (SELECT count(*) FROM transactions) AS transactions,
    (SELECT count(*) FROM transaction_attempts) AS attempts,
    (SELECT count(*) FROM ledger_journals) AS journals,
    (SELECT count(*) FROM ledger_postings) AS postings,
    (SELECT count(*) FROM ledger_accounts WHERE kind <> 'external') AS user_accounts,
    (SELECT count(*) FROM outbox WHERE topic = %(topic)s) AS outbox_events,
    (SELECT count(*) FROM outbox WHERE topic = %(topic)s AND published_at IS NULL)
        AS outbox_unpublished
"""

RULES: tuple[Rule, ...] = (
    *ledger_rules.RULES,
    *record_rules.RULES,
    *refund_rules.RULES,
    *leg_rules.RULES,
)


class PostgresInvariants:
    """InvariantDatabase over a connection pool."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def check(self) -> DatabaseFindings:
        params = {"topic": TRANSACTIONS_TOPIC, **ledger_rules.PARAMS}
        violations: list[Violation] = []
        async with self._pool.connection() as conn, conn.transaction():
            await conn.execute(SNAPSHOT)
            for query, to_violation in RULES:
                violations += [to_violation(row) for row in await _rows(conn, query, params)]
            cur = await conn.execute(COUNTS, params)
            row = await cur.fetchone()
            assert row is not None
            assert cur.description is not None
            counts = {col.name: int(value) for col, value in zip(cur.description, row, strict=True)}
        return DatabaseFindings(tuple(violations), counts)

    async def transactions(self) -> Sequence[TransactionRecord]:
        params = {"topic": TRANSACTIONS_TOPIC, "refund_flags": sorted(REFUND_FLAGS)}
        async with self._pool.connection() as conn, conn.transaction():
            await conn.execute(SNAPSHOT)
            rows = await _rows(conn, TRANSACTION_RECORDS, params)
        return [to_record(row) for row in rows]


async def check_database(pool: AsyncConnectionPool) -> list[Violation]:
    """Every SQL invariant that does not hold (empty when the database is sound)."""
    return list((await PostgresInvariants(pool).check()).violations)


async def _rows(conn: AsyncConnection[Any], query: str, params: dict[str, Any]) -> list[Row]:
    cur = await conn.execute(query, params if "%(" in query else None)
    return list(await cur.fetchall())
