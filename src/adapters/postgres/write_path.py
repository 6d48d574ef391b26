"""The one statement a commit sends for its changed transactions.

Everything the changes require is written by a single SQL statement made of
data-modifying CTEs over ``jsonb_to_recordset`` of one JSON parameter each, so a commit costs one
statement whether it carries one transaction (a request) or a hundred (a
batch of callbacks): the state rows (inserted, or updated under the
optimistic lock), the changed attempts, the outbox events, the audit entries
and the ledger journals with their balances. A single statement is atomic on
its own, so a unit of work that has nothing else to write sends it without
BEGIN/COMMIT: one round trip (see Session.commit). Foreign keys between the
CTEs' rows are checked at the end of the statement, the journals' zero sum at
commit (migration 0002's deferred trigger).

Only the CTEs a commit needs are included, so there are a few statement
shapes; each is prepared by the driver after a few uses.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import msgspec

from adapters.crypto.keyring import Keyring
from adapters.messages import TRANSACTIONS_TOPIC, envelope
from adapters.postgres.ledger import journal_ctes, journal_rows
from application.changes import TransactionChanges
from domain.transaction import Attempt, Transaction, TransactionEvent

INSERT_TRANSACTIONS = """inserted AS (
    INSERT INTO transactions (
        id, type, status, user_id, amount_minor, currency, gateway_id, reference_id,
        redirect_url, message, version, created_at, updated_at, destination_enc,
        parent_transaction_id)
    SELECT * FROM jsonb_to_recordset(%(inserted)s::jsonb) AS r(
        id uuid, type text, status text, user_id bigint, amount_minor bigint,
        currency text, gateway_id text, reference_id text, redirect_url text,
        message text, version integer, created_at timestamptz, updated_at timestamptz,
        destination_enc text, parent_transaction_id uuid)
)"""

# Only what may change after creation; the WHERE clause is the optimistic lock
# (checked by the guard in the final SELECT).
UPDATE_TRANSACTIONS = """changed AS (
    SELECT * FROM jsonb_to_recordset(%(updated)s::jsonb) AS c(
        id uuid, status text, gateway_id text, reference_id text, redirect_url text,
        message text, version integer, updated_at timestamptz, loaded_version integer)
), updated AS (
    UPDATE transactions t
    SET status = c.status, gateway_id = c.gateway_id, reference_id = c.reference_id,
        redirect_url = c.redirect_url, message = c.message, version = c.version,
        updated_at = c.updated_at
    FROM changed c
    WHERE t.id = c.id AND t.version = c.loaded_version
    RETURNING t.id
)"""

UPSERT_ATTEMPTS = """attempts AS (
    INSERT INTO transaction_attempts (
        transaction_id, attempt_no, gateway_id, idempotency_reference, outcome,
        error_code, latency_ms, tries, started_at)
    SELECT * FROM jsonb_to_recordset(%(attempts)s::jsonb) AS r(
        transaction_id uuid, attempt_no integer, gateway_id text, reference text,
        outcome text, error_code text, latency_ms integer, tries integer,
        started_at timestamptz)
    ON CONFLICT (transaction_id, attempt_no) DO UPDATE
    SET outcome = EXCLUDED.outcome, error_code = EXCLUDED.error_code,
        latency_ms = EXCLUDED.latency_ms, tries = EXCLUDED.tries
)"""

INSERT_EVENTS = """events AS (
    INSERT INTO outbox (event_id, topic, key, event_type, transaction_id, version, payload)
    SELECT * FROM jsonb_to_recordset(%(events)s::jsonb) AS r(
        event_id uuid, topic text, key text, event_type text, transaction_id uuid,
        version integer, payload jsonb)
), audit AS (
    INSERT INTO audit_log (actor, action, subject_type, subject_id, details)
    SELECT * FROM jsonb_to_recordset(%(audit)s::jsonb) AS r(
        actor text, action text, subject_type text, subject_id text, details jsonb)
)"""

# Raises 40001 (read again, retry) when a row moved since it was read.
VERSION_GUARD = (
    "payments_expect_rows((SELECT count(*) FROM updated), %(expected)s,"
    " 'transaction changed since it was read')"
)


def destination_aad(transaction_id: str) -> bytes:
    """Binds a destination ciphertext to its row: it will not decrypt elsewhere."""
    return f"transactions.destination_enc:{transaction_id}".encode()


def write_statement(
    changes: Sequence[TransactionChanges], keyring: Keyring
) -> tuple[str, dict[str, Any]] | None:
    """The statement writing every row ``changes`` require, or None if there are none."""
    changes = [c for c in changes if not c.empty]
    if not changes:
        return None
    ctes: list[str] = []
    guards: list[str] = []
    params: dict[str, Any] = {}
    new = [c.transaction for c in changes if c.new]
    if new:
        ctes.append(INSERT_TRANSACTIONS)
        params["inserted"] = _json([_inserted(tx, keyring) for tx in new])
    # Rows in id order: two commits locking the same rows cannot deadlock.
    stored = sorted((c for c in changes if not c.new), key=lambda c: c.transaction.id)
    if stored:
        ctes.append(UPDATE_TRANSACTIONS)
        params["updated"] = _json([_updated(c) for c in stored])
        params["expected"] = len(stored)
        guards.append(VERSION_GUARD)
    attempts = [_attempt(c, a) for c in changes for a in c.attempts]
    if attempts:
        ctes.append(UPSERT_ATTEMPTS)
        params["attempts"] = _json(attempts)
    events = [e for c in changes for e in c.events]
    if events:
        ctes.append(INSERT_EVENTS)
        params["events"] = _json([_outbox_row(e) for e in events])
        params["audit"] = _json([asdict(a) for c in changes for a in c.audit])
    journals = [j for c in changes for j in c.journals]
    if journals:
        ledger_ctes, ledger_guard = journal_ctes()
        ctes.append(ledger_ctes)
        guards.append(ledger_guard)
        params["moves"] = _json(journal_rows(journals))
    select = "SELECT " + (", ".join(guards) if guards else "1")
    return "WITH " + ",\n".join(ctes) + "\n" + select, params


def _json(rows: list[dict[str, Any]]) -> str:
    """Rows for ``jsonb_to_recordset``: one text parameter, encoded in C (msgspec),
    instead of one array per column for the driver to dump element by element."""
    return _ENCODER.encode(rows).decode()


_ENCODER = msgspec.json.Encoder()


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
        "parent_transaction_id": tx.parent_transaction_id,
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
        "payload": envelope(event_id, event),
    }
