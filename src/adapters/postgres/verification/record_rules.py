"""The outbox's, the attempts' and the transactions' invariants in SQL.

Each query returns only the offending rows.
"""

from __future__ import annotations

from adapters.postgres.verification.rule import Row, Rule
from application.verification.report import Violation

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
  -- A closed-loop withdrawal asks no gateway itself: its legs do.
  AND NOT EXISTS (SELECT 1 FROM transactions leg
                  WHERE leg.parent_transaction_id = t.id AND leg.type = 'withdrawal')
ORDER BY 1
"""


def _lifecycle(row: Row) -> Violation:
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


def _duplicate_reference(row: Row) -> Violation:
    reference, owners = row
    return Violation(
        "attempts.unique_reference",
        f"reference {reference} is used by {len(owners)} attempts: {', '.join(owners)}",
        reference.partition(":")[0] or None,
    )


def _malformed_attempts(row: Row) -> Violation:
    tx_id, count, highest, bad_references = row
    problems = []
    if count != highest:
        problems.append(f"{count} attempt(s) numbered up to {highest}")
    if bad_references:
        problems.append(f"references not of the form {tx_id}:n: {', '.join(bad_references)}")
    return Violation("attempts.well_formed", "; ".join(problems), tx_id)


def _without_gateway_attempt(row: Row) -> Violation:
    tx_id, status, gateway_id = row
    return Violation(
        "transactions.gateway_attempt",
        f"{status} at gateway {gateway_id} with no attempt there",
        tx_id,
    )


RULES: tuple[Rule, ...] = (
    (LIFECYCLE_EVENTS, _lifecycle),
    (DUPLICATE_REFERENCES, _duplicate_reference),
    (MALFORMED_ATTEMPTS, _malformed_attempts),
    (WITHOUT_GATEWAY_ATTEMPT, _without_gateway_attempt),
)
