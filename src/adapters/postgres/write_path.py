"""The statements a commit sends for a set of changed transactions.

Each kind of row is one multi-row statement over ``unnest`` of arrays, so a
commit costs the same handful of statements for one transaction (a request)
or for a hundred (a batch of callbacks): the state rows (inserted, or updated
under the optimistic lock), the changed attempts, the outbox events, the audit
entries and the ledger journals. ``Session.commit`` sends them in one flush.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

from psycopg.types.json import Jsonb

from adapters.crypto.keyring import Keyring
from adapters.messages import TRANSACTIONS_TOPIC, envelope
from adapters.postgres.ledger import queue_journals
from adapters.postgres.session import Session
from application.changes import TransactionChanges
from domain.transaction import Attempt, Transaction, TransactionEvent

INSERT_TRANSACTIONS = """
INSERT INTO transactions (
    id, type, status, user_id, amount_minor, currency, gateway_id, reference_id,
    redirect_url, message, version, created_at, updated_at, destination_enc)
SELECT * FROM unnest(
    %(id)s::uuid[], %(type)s::text[], %(status)s::text[], %(user_id)s::bigint[],
    %(amount_minor)s::bigint[], %(currency)s::text[], %(gateway_id)s::text[],
    %(reference_id)s::text[], %(redirect_url)s::text[], %(message)s::text[],
    %(version)s::integer[], %(created_at)s::timestamptz[], %(updated_at)s::timestamptz[],
    %(destination_enc)s::text[])
"""

# Only what may change after creation. The optimistic lock: every row must
# still be at the version it was read at, or the whole commit fails (40001).
UPDATE_TRANSACTIONS = """
WITH v AS (
    SELECT * FROM unnest(
        %(id)s::uuid[], %(status)s::text[], %(gateway_id)s::text[], %(reference_id)s::text[],
        %(redirect_url)s::text[], %(message)s::text[], %(version)s::integer[],
        %(updated_at)s::timestamptz[], %(loaded_version)s::integer[])
    AS v(id, status, gateway_id, reference_id, redirect_url, message, version,
         updated_at, loaded_version)
), updated AS (
    UPDATE transactions t
    SET status = v.status, gateway_id = v.gateway_id, reference_id = v.reference_id,
        redirect_url = v.redirect_url, message = v.message, version = v.version,
        updated_at = v.updated_at
    FROM v
    WHERE t.id = v.id AND t.version = v.loaded_version
    RETURNING t.id
)
SELECT payments_expect_rows(
    (SELECT count(*) FROM updated), %(expected)s, 'transaction changed since it was read')
"""

UPSERT_ATTEMPTS = """
INSERT INTO transaction_attempts (
    transaction_id, attempt_no, gateway_id, idempotency_reference, outcome,
    error_code, latency_ms, tries, started_at)
SELECT * FROM unnest(
    %(transaction_id)s::uuid[], %(attempt_no)s::integer[], %(gateway_id)s::text[],
    %(reference)s::text[], %(outcome)s::text[], %(error_code)s::text[],
    %(latency_ms)s::integer[], %(tries)s::integer[], %(started_at)s::timestamptz[])
ON CONFLICT (transaction_id, attempt_no) DO UPDATE
SET outcome = EXCLUDED.outcome, error_code = EXCLUDED.error_code,
    latency_ms = EXCLUDED.latency_ms, tries = EXCLUDED.tries
"""

INSERT_OUTBOX = """
INSERT INTO outbox (event_id, topic, key, event_type, transaction_id, version, payload)
SELECT * FROM unnest(
    %(event_id)s::uuid[], %(topic)s::text[], %(key)s::text[], %(event_type)s::text[],
    %(transaction_id)s::uuid[], %(version)s::integer[], %(payload)s::jsonb[])
"""

INSERT_AUDIT = """
INSERT INTO audit_log (actor, action, subject_type, subject_id, details)
SELECT * FROM unnest(
    %(actor)s::text[], %(action)s::text[], %(subject_type)s::text[],
    %(subject_id)s::text[], %(details)s::jsonb[])
"""


def destination_aad(transaction_id: str) -> bytes:
    """Binds a destination ciphertext to its row: it will not decrypt elsewhere."""
    return f"transactions.destination_enc:{transaction_id}".encode()


def queue_changes(
    session: Session, keyring: Keyring, changes: Sequence[TransactionChanges]
) -> None:
    """Queue every row the changes require, one statement per kind of row."""
    changes = [c for c in changes if not c.empty]
    if not changes:
        return
    new = [c.transaction for c in changes if c.new]
    if new:
        session.queue(INSERT_TRANSACTIONS, _columns(_inserted(tx, keyring) for tx in new))
    # Rows in id order: two batches locking the same rows cannot deadlock.
    stored = sorted((c for c in changes if not c.new), key=lambda c: c.transaction.id)
    if stored:
        params: dict[str, Any] = {**_columns(_updated(c) for c in stored), "expected": len(stored)}
        session.queue(UPDATE_TRANSACTIONS, params)
    attempts = [_attempt(c, a) for c in changes for a in c.attempts]
    if attempts:
        session.queue(UPSERT_ATTEMPTS, _columns(attempts))
    events = [e for c in changes for e in c.events]
    if events:
        session.queue(INSERT_OUTBOX, _columns(_outbox_row(e) for e in events))
    audit = [a for c in changes for a in c.audit]
    if audit:
        session.queue(
            INSERT_AUDIT,
            {
                "actor": [a.actor for a in audit],
                "action": [a.action for a in audit],
                "subject_type": [a.subject_type for a in audit],
                "subject_id": [a.subject_id for a in audit],
                "details": [Jsonb(a.details) for a in audit],
            },
        )
    queue_journals(session, [j for c in changes for j in c.journals])


def _columns(rows: Any) -> dict[str, list[Any]]:
    """Rows as dicts -> one list per column (the arrays ``unnest`` takes)."""
    out: dict[str, list[Any]] = {}
    for row in rows:
        for key, value in row.items():
            out.setdefault(key, []).append(value)
    return out


def _inserted(tx: Transaction, keyring: Keyring) -> dict[str, Any]:
    destination = (
        keyring.encrypt(json.dumps(tx.destination).encode(), destination_aad(tx.id))
        if tx.destination is not None
        else None
    )
    return {
        "id": tx.id,
        "type": tx.type.value,
        "status": tx.status.value,
        "user_id": tx.user_id,
        "amount_minor": tx.money.minor,
        "currency": tx.money.currency.code,
        "gateway_id": tx.gateway_id,
        "reference_id": tx.reference_id,
        "redirect_url": tx.redirect_url,
        "message": tx.message,
        "version": tx.version,
        "created_at": tx.created_at,
        "updated_at": tx.updated_at,
        "destination_enc": destination,
    }


def _updated(changes: TransactionChanges) -> dict[str, Any]:
    tx = changes.transaction
    return {
        "id": tx.id,
        "status": tx.status.value,
        "gateway_id": tx.gateway_id,
        "reference_id": tx.reference_id,
        "redirect_url": tx.redirect_url,
        "message": tx.message,
        "version": tx.version,
        "updated_at": tx.updated_at,
        "loaded_version": changes.loaded_version,
    }


def _attempt(changes: TransactionChanges, attempt: Attempt) -> dict[str, Any]:
    return {
        "transaction_id": changes.transaction.id,
        "attempt_no": attempt.number,
        "gateway_id": attempt.gateway_id,
        "reference": attempt.reference,
        "outcome": attempt.outcome.value,
        "error_code": attempt.error_code,
        "latency_ms": attempt.latency_ms,
        "tries": attempt.tries,
        "started_at": attempt.started_at,
    }


def _outbox_row(event: TransactionEvent) -> dict[str, Any]:
    event_id = uuid.uuid4()
    return {
        "event_id": event_id,
        "topic": TRANSACTIONS_TOPIC,
        "key": event.transaction_id,
        "event_type": event.type,
        "transaction_id": event.transaction_id,
        "version": event.version,
        "payload": Jsonb(envelope(event_id, event)),
    }
