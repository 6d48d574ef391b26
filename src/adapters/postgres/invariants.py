"""The database's invariants in SQL, and the snapshot the cross-checks need.

Every query returns only offending rows, so a healthy database answers with
nothing but counts; all of them run in one REPEATABLE READ, READ ONLY
transaction, so they see one consistent state even while the service runs.
The schema already enforces some of these (CHECK, UNIQUE, the deferred
journal trigger); they are checked anyway, because a constraint dropped in a
migration, a trigger disabled for maintenance or a manual fix would
otherwise go unnoticed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from adapters.messages import TRANSACTIONS_TOPIC
from application.invariants import (
    REFUND_FLAGS,
    AttemptRecord,
    DatabaseFindings,
    TransactionRecord,
    Violation,
)
from domain.money import Money
from domain.transaction import AttemptOutcome, TransactionStatus, TransactionType

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

# -- ledger --------------------------------------------------------------------------
JOURNAL_UNBALANCED = """
SELECT j.id, j.transaction_id::text, j.kind, coalesce(sum(p.amount_minor), 0)::bigint
FROM ledger_journals j
LEFT JOIN ledger_postings p ON p.journal_id = j.id
GROUP BY j.id
HAVING coalesce(sum(p.amount_minor), 0) <> 0
ORDER BY j.id
"""

# Which accounts each journal kind moves money between (domain/ledger.py).
JOURNAL_SHAPE = """
WITH expected (kind, tx_type, debit, credit) AS (
    VALUES ('deposit.credit', 'deposit', 'external', 'available'),
           ('withdrawal.hold', 'withdrawal', 'available', 'held'),
           ('withdrawal.payout', 'withdrawal', 'held', 'external'),
           ('withdrawal.release', 'withdrawal', 'held', 'available')
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
    WHERE type = 'withdrawal' AND status IN ('pending', 'processing')
    GROUP BY user_id, currency
)
SELECT coalesce(h.user_id, o.user_id), coalesce(h.currency, o.currency),
       coalesce(h.balance_minor, 0), coalesce(o.total, 0)::bigint, coalesce(o.n, 0)
FROM held h FULL JOIN open o ON o.user_id = h.user_id AND o.currency = h.currency
WHERE coalesce(h.balance_minor, 0) <> coalesce(o.total, 0)
ORDER BY 1, 2
"""

JOURNALS_PER_STATE = """
WITH kinds AS (
    SELECT t.id, t.type, t.status,
           coalesce(array_agg(j.kind ORDER BY j.kind COLLATE "C")
                    FILTER (WHERE j.id IS NOT NULL), '{}') AS kinds
    FROM transactions t LEFT JOIN ledger_journals j ON j.transaction_id = t.id
    GROUP BY t.id
), expected AS (
    SELECT kinds.*, CASE
        WHEN type = 'deposit' AND status = 'completed' THEN ARRAY['deposit.credit']
        WHEN type = 'deposit' THEN ARRAY[]::text[]
        WHEN status = 'completed' THEN ARRAY['withdrawal.hold', 'withdrawal.payout']
        WHEN status = 'failed' THEN ARRAY['withdrawal.hold', 'withdrawal.release']
        ELSE ARRAY['withdrawal.hold'] END AS expected
    FROM kinds
)
SELECT id::text, type, status, kinds, expected FROM expected
WHERE kinds <> expected
ORDER BY id
"""

# -- outbox, attempts, transactions ---------------------------------------------------------
LIFECYCLE_EVENTS = """
WITH events AS (
    SELECT transaction_id,
           array_agg(version ORDER BY version, id) AS versions,
           array_agg(event_type ORDER BY version, id) AS types,
           bool_and(payload->>'transaction_id' IS NOT DISTINCT FROM transaction_id::text
                    AND payload->>'version' IS NOT DISTINCT FROM version::text
                    AND payload->>'type' IS NOT DISTINCT FROM event_type) AS payload_ok
    FROM outbox WHERE topic = %(topic)s
    GROUP BY transaction_id
)
SELECT coalesce(t.id, e.transaction_id)::text, t.id IS NOT NULL, t.status, t.version,
       coalesce(e.versions, '{}'), coalesce(e.types, '{}'), coalesce(e.payload_ok, true)
FROM transactions t FULL JOIN events e ON e.transaction_id = t.id
WHERE t.id IS NULL
   OR coalesce(e.versions, '{}') <> ARRAY(SELECT generate_series(1, t.version))
   OR e.types[1] IS DISTINCT FROM 'transaction.created'
   OR e.types[t.version] IS DISTINCT FROM
      CASE t.status WHEN 'pending' THEN 'transaction.created' ELSE 'transaction.' || t.status END
   OR NOT e.payload_ok
ORDER BY 1
"""

DUPLICATE_REFERENCES = """
SELECT idempotency_reference,
       array_agg(transaction_id::text || ' attempt ' || attempt_no
                 ORDER BY transaction_id, attempt_no)
FROM transaction_attempts
GROUP BY idempotency_reference
HAVING count(*) > 1
ORDER BY 1
"""

MALFORMED_ATTEMPTS = """
SELECT transaction_id::text, count(*), max(attempt_no),
       array_agg(idempotency_reference ORDER BY attempt_no)
           FILTER (WHERE idempotency_reference <> transaction_id::text || ':' || attempt_no)
FROM transaction_attempts
GROUP BY transaction_id
HAVING max(attempt_no) <> count(*)
    OR bool_or(idempotency_reference <> transaction_id::text || ':' || attempt_no)
ORDER BY 1
"""

WITHOUT_GATEWAY_ATTEMPT = """
SELECT t.id::text, t.status, t.gateway_id FROM transactions t
WHERE t.status IN ('processing', 'completed')
  AND NOT EXISTS (SELECT 1 FROM transaction_attempts a
                  WHERE a.transaction_id = t.id AND a.gateway_id = t.gateway_id)
ORDER BY 1
"""

# -- the snapshot for the cross-checks ------------------------------------------------------
# Aggregated per table and hash-joined: the outbox has no index on
# transaction_id, so correlated subqueries would scan it once per transaction.
TRANSACTION_RECORDS = """
WITH attempts AS (
    SELECT transaction_id,
           array_agg(ARRAY[attempt_no::text, gateway_id, idempotency_reference, outcome]
                     ORDER BY attempt_no) AS attempts
    FROM transaction_attempts GROUP BY transaction_id
), published AS (
    SELECT transaction_id, array_agg(version) AS versions
    FROM outbox
    WHERE topic = %(topic)s AND published_at IS NOT NULL AND version IS NOT NULL
    GROUP BY transaction_id
), flagged AS (
    SELECT transaction_id, array_agg(DISTINCT gateway_id) AS gateways
    FROM reconciliation_issues
    WHERE gateway_id IS NOT NULL AND kind = ANY(%(refund_flags)s)
    GROUP BY transaction_id
)
SELECT t.id::text, t.type, t.status, t.amount_minor, t.currency, t.version, t.gateway_id,
       t.created_at, coalesce(a.attempts, '{}'), coalesce(p.versions, '{}'),
       coalesce(f.gateways, '{}')
FROM transactions t
LEFT JOIN attempts a ON a.transaction_id = t.id
LEFT JOIN published p ON p.transaction_id = t.id
LEFT JOIN flagged f ON f.transaction_id = t.id::text
ORDER BY t.created_at, t.id
"""

_Row = tuple[Any, ...]
_Rule = tuple[str, Callable[[_Row], Violation]]


def _amount(minor: int, currency: str) -> str:
    return f"{Money.format_minor(minor, currency)} {currency}"


def _account(row: _Row) -> str:
    account_id, user_id, currency, kind = row[:4]
    return f"account {account_id} (user {user_id} {kind} {currency})"


def _journal_unbalanced(row: _Row) -> Violation:
    journal_id, tx_id, kind, total = row
    return Violation(
        "ledger.journal_balanced",
        f"journal {journal_id} ({kind}) sums to {total}, not 0",
        tx_id,
    )


def _journal_shape(row: _Row) -> Violation:
    journal_id, tx_id, kind, tx_type, postings, known, debits, credits = row
    if not known:
        why = f"a {kind} journal cannot belong to a {tx_type}"
    else:
        why = (
            f"{postings} posting(s), {debits} matching debit(s) and {credits} matching "
            "credit(s) of the transaction's amount; expected exactly one of each"
        )
    return Violation("ledger.journal_shape", f"journal {journal_id} ({kind}): {why}", tx_id)


def _negative(row: _Row) -> Violation:
    return Violation("ledger.non_negative", f"{_account(row)} is at {row[4]}")


def _balance_vs_postings(row: _Row) -> Violation:
    return Violation(
        "ledger.balance_matches_postings",
        f"{_account(row)} has balance {row[4]} but its postings sum to {row[5]}",
    )


def _not_conserved(row: _Row) -> Violation:
    currency, total, users = row
    return Violation(
        "ledger.money_conserved",
        f"{currency}: user balances ({users or 0}) and the external account's postings "
        f"sum to {total}, not 0",
    )


def _held(row: _Row) -> Violation:
    user_id, currency, held, open_total, open_count = row
    return Violation(
        "ledger.held_matches_open_withdrawals",
        f"user {user_id} holds {_amount(held, currency)} but has {open_count} open "
        f"withdrawal(s) of {_amount(open_total, currency)}",
    )


def _journals_per_state(row: _Row) -> Violation:
    tx_id, tx_type, status, kinds, expected = row
    return Violation(
        f"ledger.{tx_type}_journals",
        f"{status} {tx_type} has journals [{', '.join(kinds)}], expected [{', '.join(expected)}]",
        tx_id,
    )


def _lifecycle(row: _Row) -> Violation:
    tx_id, exists, status, version, versions, types, payload_ok = row
    if not exists:
        detail = f"{len(versions)} outbox event(s) for a transaction that does not exist"
    else:
        detail = (
            f"{status} at version {version} has outbox versions {list(versions)} "
            f"({', '.join(types) or 'no events'}); expected 1..{version} once each, "
            "created first and its current state last"
        )
        if not payload_ok:
            detail += "; some payloads disagree with their row"
    return Violation("outbox.lifecycle_events", detail, tx_id)


def _duplicate_reference(row: _Row) -> Violation:
    reference, owners = row
    return Violation(
        "attempts.unique_reference",
        f"reference {reference} is used by {len(owners)} attempts: {', '.join(owners)}",
        reference.partition(":")[0] or None,
    )


def _malformed_attempts(row: _Row) -> Violation:
    tx_id, count, highest, bad_references = row
    problems = []
    if count != highest:
        problems.append(f"{count} attempt(s) numbered up to {highest}")
    if bad_references:
        problems.append(f"references not of the form {tx_id}:n: {', '.join(bad_references)}")
    return Violation("attempts.well_formed", "; ".join(problems), tx_id)


def _without_gateway_attempt(row: _Row) -> Violation:
    tx_id, status, gateway_id = row
    return Violation(
        "transactions.gateway_attempt",
        f"{status} at gateway {gateway_id} with no attempt there",
        tx_id,
    )


RULES: tuple[_Rule, ...] = (
    (JOURNAL_UNBALANCED, _journal_unbalanced),
    (JOURNAL_SHAPE, _journal_shape),
    (NEGATIVE_BALANCE, _negative),
    (BALANCE_VS_POSTINGS, _balance_vs_postings),
    (MONEY_CONSERVED, _not_conserved),
    (HELD_VS_OPEN_WITHDRAWALS, _held),
    (JOURNALS_PER_STATE, _journals_per_state),
    (LIFECYCLE_EVENTS, _lifecycle),
    (DUPLICATE_REFERENCES, _duplicate_reference),
    (MALFORMED_ATTEMPTS, _malformed_attempts),
    (WITHOUT_GATEWAY_ATTEMPT, _without_gateway_attempt),
)


class PostgresInvariants:
    """InvariantDatabase over a connection pool."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def check(self) -> DatabaseFindings:
        params = {"topic": TRANSACTIONS_TOPIC}
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
        return [_record(row) for row in rows]


async def check_database(pool: AsyncConnectionPool) -> list[Violation]:
    """Every SQL invariant that does not hold (empty when the database is sound)."""
    return list((await PostgresInvariants(pool).check()).violations)


async def _rows(conn: AsyncConnection[Any], query: str, params: dict[str, Any]) -> list[_Row]:
    cur = await conn.execute(query, params if "%(" in query else None)
    return list(await cur.fetchall())


def _record(row: _Row) -> TransactionRecord:
    (tx_id, tx_type, status, amount, currency, version, gateway_id, created_at) = row[:8]
    attempts, published, flagged = row[8:]
    return TransactionRecord(
        id=tx_id,
        type=TransactionType(tx_type),
        status=TransactionStatus(status),
        amount_minor=int(amount),
        currency=currency.strip(),
        version=int(version),
        gateway_id=gateway_id,
        created_at=created_at,  # timestamptz: timezone-aware
        attempts=tuple(
            AttemptRecord(int(number), gateway, reference, AttemptOutcome(outcome))
            for number, gateway, reference, outcome in attempts
        ),
        published_versions=frozenset(int(v) for v in published),
        refund_flagged_at=frozenset(flagged),
    )
