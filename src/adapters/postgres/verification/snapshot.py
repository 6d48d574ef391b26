"""Our transactions as the cross-checks need them, read in one query."""

from __future__ import annotations

from adapters.postgres.verification.rule import Row
from application.verification.records import AttemptRecord, TransactionRecord
from domain.transaction import AttemptOutcome, TransactionStatus, TransactionType

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
), parents AS (
    -- Closed-loop withdrawals: their legs ask the gateways, they ask none.
    SELECT DISTINCT parent_transaction_id AS id FROM transactions
    WHERE type = 'withdrawal' AND parent_transaction_id IS NOT NULL
)
SELECT t.id::text, t.type, t.status, t.amount_minor, t.currency, t.version, t.gateway_id,
       t.created_at, coalesce(a.attempts, '{}'), coalesce(p.versions, '{}'),
       coalesce(f.gateways, '{}'), legs.id IS NOT NULL
FROM transactions t
LEFT JOIN attempts a ON a.transaction_id = t.id
LEFT JOIN published p ON p.transaction_id = t.id
LEFT JOIN flagged f ON f.transaction_id = t.id::text
LEFT JOIN parents legs ON legs.id = t.id
ORDER BY t.created_at, t.id
"""


def to_record(row: Row) -> TransactionRecord:
    (tx_id, tx_type, status, amount, currency, version, gateway_id, created_at) = row[:8]
    attempts, published, flagged, has_legs = row[8:]
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
        has_legs=bool(has_legs),
    )
