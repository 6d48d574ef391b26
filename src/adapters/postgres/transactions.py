"""TransactionRepository over PostgreSQL: rows in, aggregates out.

The repository only reads and keeps track: every aggregate it loads or is
given is remembered (one object per id in a unit of work), and the unit of
work writes their changes at commit (see write_path.py), guarded by an
optimistic lock on ``version``.
"""

from __future__ import annotations

import builtins
import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from psycopg import sql

from adapters.crypto.keyring import Keyring
from adapters.postgres.session import Session
from adapters.postgres.write_path import destination_aad
from application.log_context import current_actor
from application.ports import PageCursor
from domain.errors import InvalidInput
from domain.money import Money
from domain.transaction import (
    Attempt,
    AttemptOutcome,
    Transaction,
    TransactionStatus,
    TransactionType,
)

SELECT_MANY = """
SELECT id, type, status, user_id, amount_minor, currency, gateway_id, reference_id,
       redirect_url, message, version, created_at, updated_at, destination_enc,
       parent_transaction_id
FROM transactions
WHERE id = ANY(%(ids)s)
ORDER BY id
"""
SELECT_MANY_FOR_UPDATE = SELECT_MANY + " FOR UPDATE"

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
       redirect_url, message, version, created_at, updated_at, parent_transaction_id
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
  -- A closed-loop parent asks no gateway itself: its legs are reconciled.
  AND NOT EXISTS (SELECT 1 FROM transactions leg
                  WHERE leg.parent_transaction_id = transactions.id AND leg.type = 'withdrawal')
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

REFUND_IDS = """
SELECT id FROM transactions WHERE parent_transaction_id = %(parent)s ORDER BY created_at, id
"""

MARK_RECONCILED = """
UPDATE transaction_attempts SET reconciled_at = now()
WHERE transaction_id = %(id)s AND attempt_no = ANY(%(numbers)s)
"""


class PostgresTransactionRepository:
    """TransactionRepository on the unit of work's session, with an identity map."""

    def __init__(self, session: Session, keyring: Keyring) -> None:
        self._session = session
        self._keyring = keyring
        # Every aggregate this unit of work loaded or was given, by id, with
        # the actor that changed it (audit entries name them at commit).
        self.tracked: dict[str, tuple[Transaction, str | None]] = {}

    async def add(self, tx: Transaction) -> None:
        """Track ``tx``: inserted at commit if never stored, else updated (optimistic lock)."""
        self.tracked[str(_parse_uuid(tx.id) or tx.id)] = (tx, current_actor())

    async def get(self, transaction_id: str) -> Transaction | None:
        """The transaction with its attempts, or None (also for a malformed id)."""
        return (await self.get_many([transaction_id])).get(transaction_id)

    async def get_many(
        self, transaction_ids: Sequence[str], *, lock: bool = False
    ) -> dict[str, Transaction]:
        """Those that exist, by id; ``lock`` holds their rows until commit."""
        found: dict[str, Transaction] = {}
        wanted: dict[uuid.UUID, builtins.list[str]] = {}
        for tid in dict.fromkeys(transaction_ids):
            key = _parse_uuid(tid)
            if key is None:
                continue
            if (known := self.tracked.get(str(key))) is not None:
                found[tid] = known[0]
            else:
                wanted.setdefault(key, []).append(tid)
        if wanted:
            rows, attempts = await self._session.fetch_all(
                [
                    (SELECT_MANY_FOR_UPDATE if lock else SELECT_MANY, {"ids": list(wanted)}),
                    (SELECT_ATTEMPTS, {"ids": list(wanted)}),
                ],
                lock=lock,
            )
            for tx in self._rebuild(rows, attempts):
                self.tracked[tx.id] = (tx, None)
                for tid in wanted[uuid.UUID(tx.id)]:  # as the caller spelled it
                    found[tid] = tx
        return found

    def forget(self, transaction_ids: Sequence[str]) -> None:
        """Drop aggregates whose writes were rolled back: the next read reloads them."""
        for tid in transaction_ids:
            self.tracked.pop(str(_parse_uuid(tid) or tid), None)

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
        rows = await self._session.fetch(
            (query + sql.SQL(LIST_ORDER)).as_string(self._session.conn), params
        )
        if not rows:
            return []
        attempts = await self._session.fetch(SELECT_ATTEMPTS, {"ids": [r["id"] for r in rows]})
        return self._rebuild(rows, attempts)

    async def stuck(self, *, updated_before: datetime, limit: int) -> builtins.list[Transaction]:
        return await self._by_ids(STUCK_IDS, {"before": updated_before, "limit": limit})

    async def unreconciled(
        self, *, updated_before: datetime, updated_after: datetime, limit: int
    ) -> builtins.list[Transaction]:
        return await self._by_ids(
            UNRECONCILED_IDS,
            {"before": updated_before, "after": updated_after, "limit": limit},
        )

    async def refunds_of(self, deposit_id: str) -> builtins.list[Transaction]:
        parent = _parse_uuid(deposit_id)
        if parent is None:
            return []
        return await self._by_ids(REFUND_IDS, {"parent": parent})

    async def mark_reconciled(self, transaction_id: str, attempt_numbers: Sequence[int]) -> None:
        self._session.queue(
            MARK_RECONCILED, {"id": transaction_id, "numbers": builtins.list(attempt_numbers)}
        )

    async def _by_ids(self, query: str, params: dict[str, Any]) -> builtins.list[Transaction]:
        ids = [str(row["id"]) for row in await self._session.fetch(query, params)]
        found = await self.get_many(ids)
        return [found[i] for i in ids if i in found]

    def _rebuild(
        self, rows: builtins.list[dict[str, Any]], attempt_rows: builtins.list[dict[str, Any]]
    ) -> builtins.list[Transaction]:
        """Aggregates from their rows and all their attempts' rows."""
        attempts: dict[uuid.UUID, builtins.list[Attempt]] = {row["id"]: [] for row in rows}
        for attempt in attempt_rows:
            attempts[attempt["transaction_id"]].append(_attempt(attempt))
        out = []
        for row in rows:
            tx = _transaction(row, attempts[row["id"]])
            if row.get("destination_enc") is not None:
                plain = self._keyring.decrypt(row["destination_enc"], destination_aad(tx.id))
                tx.destination = json.loads(plain)
            out.append(tx)
        return out


def _parse_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return None


def _text_or_none(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)


def _utc(value: datetime) -> datetime:
    # The session time zone is the server's; the domain speaks UTC.
    return value.astimezone(UTC)


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
        parent_transaction_id=_text_or_none(row.get("parent_transaction_id")),
        attempts=attempts,
        loaded_version=row["version"],
    )
