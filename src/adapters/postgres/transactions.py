"""TransactionRepository over PostgreSQL: rows in, aggregates out.

Writes are guarded by an optimistic lock on ``version``; every write also
hands the aggregate's recorded events to the outbox on the same connection,
so state and events commit together.
"""

from __future__ import annotations

import builtins
import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row

from adapters.crypto.keyring import Keyring
from adapters.postgres.outbox import PostgresEventOutbox
from application.ports import PageCursor
from domain.errors import ConcurrentUpdate, InvalidInput
from domain.money import Money
from domain.transaction import (
    Attempt,
    AttemptOutcome,
    Transaction,
    TransactionStatus,
    TransactionType,
)

INSERT_TRANSACTION = """
INSERT INTO transactions (
    id, type, status, user_id, amount_minor, currency, gateway_id, reference_id,
    redirect_url, message, version, created_at, updated_at, destination_enc)
VALUES (
    %(id)s, %(type)s, %(status)s, %(user_id)s, %(amount_minor)s, %(currency)s,
    %(gateway_id)s, %(reference_id)s, %(redirect_url)s, %(message)s, %(version)s,
    %(created_at)s, %(updated_at)s, %(destination_enc)s)
"""

# Only what may change after creation; the WHERE clause is the optimistic lock.
UPDATE_TRANSACTION = """
UPDATE transactions
SET status = %(status)s, gateway_id = %(gateway_id)s, reference_id = %(reference_id)s,
    redirect_url = %(redirect_url)s, message = %(message)s, version = %(version)s,
    updated_at = %(updated_at)s
WHERE id = %(id)s AND version = %(loaded_version)s
"""

UPSERT_ATTEMPT = """
INSERT INTO transaction_attempts (
    transaction_id, attempt_no, gateway_id, idempotency_reference, outcome,
    error_code, latency_ms, tries, started_at)
VALUES (
    %(transaction_id)s, %(attempt_no)s, %(gateway_id)s, %(reference)s, %(outcome)s,
    %(error_code)s, %(latency_ms)s, %(tries)s, %(started_at)s)
ON CONFLICT (transaction_id, attempt_no) DO UPDATE
SET outcome = EXCLUDED.outcome, error_code = EXCLUDED.error_code,
    latency_ms = EXCLUDED.latency_ms, tries = EXCLUDED.tries
"""

SELECT_ONE = """
SELECT id, type, status, user_id, amount_minor, currency, gateway_id, reference_id,
       redirect_url, message, version, created_at, updated_at, destination_enc
FROM transactions
WHERE id = %(id)s
"""

SELECT_ATTEMPTS = """
SELECT transaction_id, attempt_no, gateway_id, idempotency_reference, outcome,
       error_code, latency_ms, tries, started_at
FROM transaction_attempts
WHERE transaction_id = ANY(%(ids)s)
ORDER BY transaction_id, attempt_no
"""

# List filters are composed from fixed fragments rather than "%s IS NULL OR
# ..." so each combination gets a plan that uses its own index.
LIST_BASE = """
SELECT id, type, status, user_id, amount_minor, currency, gateway_id, reference_id,
       redirect_url, message, version, created_at, updated_at
FROM transactions
WHERE {filters}
"""
LIST_ORDER = " ORDER BY created_at DESC, id DESC LIMIT %(limit)s"
FILTER_ALL = "TRUE"
FILTER_USER = "user_id = %(user_id)s"
FILTER_STATUS = "status = %(status)s"
FILTER_AFTER = "(created_at, id) < (%(after_created_at)s, %(after_id)s)"


STUCK_IDS = """
SELECT id FROM transactions
WHERE status IN ('pending', 'processing') AND updated_at < %(before)s
ORDER BY updated_at
LIMIT %(limit)s
"""

# Terminal transactions with an attempt whose outcome we never learned for
# sure: the money may sit at that gateway although we moved on.
UNRECONCILED_IDS = """
SELECT DISTINCT t.id, t.updated_at FROM transactions t
JOIN transaction_attempts a ON a.transaction_id = t.id
WHERE t.status IN ('completed', 'failed')
  AND t.updated_at < %(before)s AND t.updated_at > %(after)s
  AND a.outcome IN ('ambiguous', 'in_flight') AND a.reconciled_at IS NULL
ORDER BY t.updated_at
LIMIT %(limit)s
"""

MARK_RECONCILED = """
UPDATE transaction_attempts SET reconciled_at = now()
WHERE transaction_id = %(id)s AND attempt_no = ANY(%(numbers)s)
"""


class PostgresTransactionRepository:
    """TransactionRepository on the unit of work's connection."""

    def __init__(
        self, conn: AsyncConnection[Any], outbox: PostgresEventOutbox, keyring: Keyring
    ) -> None:
        self._conn = conn
        self._outbox = outbox
        self._keyring = keyring

    async def add(self, tx: Transaction) -> None:
        """Insert a new transaction, its attempts and its recorded events."""
        params = _transaction_params(tx)
        params["destination_enc"] = (
            self._keyring.encrypt(json.dumps(tx.destination).encode(), destination_aad(tx.id))
            if tx.destination is not None
            else None
        )
        async with self._conn.cursor() as cur:
            await cur.execute(INSERT_TRANSACTION, params)
        await self._write_children(tx)

    async def save(self, tx: Transaction) -> None:
        """Update state and attempts; ConcurrentUpdate if the stored version moved."""
        async with self._conn.cursor() as cur:
            await cur.execute(UPDATE_TRANSACTION, _transaction_params(tx))
            if cur.rowcount == 0:
                raise ConcurrentUpdate(
                    f"transaction {tx.id} changed since version {tx.loaded_version}",
                    transaction_id=tx.id,
                )
        await self._write_children(tx)

    async def get(self, transaction_id: str) -> Transaction | None:
        """The transaction with its attempts, or None (also for a malformed id)."""
        key = _parse_uuid(transaction_id)
        if key is None:
            return None
        async with self._conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(SELECT_ONE, {"id": key})
            row = await cur.fetchone()
        if row is None:
            return None
        tx = (await self._with_attempts([row]))[0]
        if row["destination_enc"] is not None:
            plain = self._keyring.decrypt(row["destination_enc"], destination_aad(tx.id))
            tx.destination = json.loads(plain)
        return tx

    async def list(
        self,
        *,
        user_id: int | None,
        status: TransactionStatus | None,
        limit: int,
        after: PageCursor | None,
    ) -> builtins.list[Transaction]:
        """Newest first, strictly after the cursor, attempts included."""
        filters: builtins.list[sql.Composable] = [sql.SQL(FILTER_ALL)]
        params: dict[str, Any] = {"limit": limit}
        if user_id is not None:
            filters.append(sql.SQL(FILTER_USER))
            params["user_id"] = user_id
        if status is not None:
            filters.append(sql.SQL(FILTER_STATUS))
            params["status"] = status.value
        if after is not None:
            after_id = _parse_uuid(after.transaction_id)
            if after_id is None:
                raise InvalidInput("cursor is not valid")
            filters.append(sql.SQL(FILTER_AFTER))
            params["after_created_at"] = after.created_at
            params["after_id"] = after_id
        query = sql.SQL(LIST_BASE).format(filters=sql.SQL(" AND ").join(filters))
        async with self._conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(query + sql.SQL(LIST_ORDER), params)
            rows = await cur.fetchall()
        return await self._with_attempts(rows)

    async def stuck(self, *, updated_before: datetime, limit: int) -> builtins.list[Transaction]:
        return await self._by_ids(STUCK_IDS, {"before": updated_before, "limit": limit})

    async def unreconciled(
        self, *, updated_before: datetime, updated_after: datetime, limit: int
    ) -> builtins.list[Transaction]:
        return await self._by_ids(
            UNRECONCILED_IDS,
            {"before": updated_before, "after": updated_after, "limit": limit},
        )

    async def mark_reconciled(self, transaction_id: str, attempt_numbers: Sequence[int]) -> None:
        await self._conn.execute(
            MARK_RECONCILED, {"id": transaction_id, "numbers": builtins.list(attempt_numbers)}
        )

    async def _by_ids(self, query: str, params: dict[str, Any]) -> builtins.list[Transaction]:
        cur = await self._conn.execute(query, params)
        out = []
        for row in await cur.fetchall():
            tx = await self.get(str(row[0]))
            if tx is not None:
                out.append(tx)
        return out

    async def _write_children(self, tx: Transaction) -> None:
        if tx.attempts:
            async with self._conn.cursor() as cur:
                await cur.executemany(UPSERT_ATTEMPT, [_attempt_params(tx, a) for a in tx.attempts])
        await self._outbox.put(tx.pull_events())
        tx.loaded_version = tx.version

    async def _with_attempts(
        self, rows: builtins.list[dict[str, Any]]
    ) -> builtins.list[Transaction]:
        """Rebuild aggregates, loading all their attempts in one query."""
        if not rows:
            return []
        attempts: dict[uuid.UUID, builtins.list[Attempt]] = {row["id"]: [] for row in rows}
        async with self._conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(SELECT_ATTEMPTS, {"ids": builtins.list(attempts)})
            for attempt in await cur.fetchall():
                attempts[attempt["transaction_id"]].append(_attempt(attempt))
        return [_transaction(row, attempts[row["id"]]) for row in rows]


def destination_aad(transaction_id: str) -> bytes:
    """Binds a destination ciphertext to its row: it will not decrypt elsewhere."""
    return f"transactions.destination_enc:{transaction_id}".encode()


def _parse_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return None


def _utc(value: datetime) -> datetime:
    # The session time zone is the server's; the domain speaks UTC.
    return value.astimezone(UTC)


def _transaction_params(tx: Transaction) -> dict[str, Any]:
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
        "loaded_version": tx.loaded_version,
        "created_at": tx.created_at,
        "updated_at": tx.updated_at,
    }


def _attempt_params(tx: Transaction, attempt: Attempt) -> dict[str, Any]:
    return {
        "transaction_id": tx.id,
        "attempt_no": attempt.number,
        "gateway_id": attempt.gateway_id,
        "reference": attempt.reference,
        "outcome": attempt.outcome.value,
        "error_code": attempt.error_code,
        "latency_ms": attempt.latency_ms,
        "tries": attempt.tries,
        "started_at": attempt.started_at,
    }


def _attempt(row: dict[str, Any]) -> Attempt:
    return Attempt(
        number=row["attempt_no"],
        gateway_id=row["gateway_id"],
        reference=row["idempotency_reference"],
        started_at=_utc(row["started_at"]),
        outcome=AttemptOutcome(row["outcome"]),
        error_code=row["error_code"],
        latency_ms=row["latency_ms"],
        tries=row["tries"],
    )


def _transaction(row: dict[str, Any], attempts: builtins.list[Attempt]) -> Transaction:
    return Transaction(
        id=str(row["id"]),
        type=TransactionType(row["type"]),
        user_id=row["user_id"],
        money=Money.of_minor(row["amount_minor"], row["currency"]),
        status=TransactionStatus(row["status"]),
        version=row["version"],
        created_at=_utc(row["created_at"]),
        updated_at=_utc(row["updated_at"]),
        gateway_id=row["gateway_id"],
        reference_id=row["reference_id"],
        redirect_url=row["redirect_url"],
        message=row["message"],
        attempts=attempts,
        loaded_version=row["version"],
    )
