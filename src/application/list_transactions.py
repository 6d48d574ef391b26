"""Query: transactions newest first, filtered, with keyset pagination."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime

from application.ports import PageCursor, UnitOfWorkFactory
from domain.errors import InvalidInput
from domain.transaction import Transaction, TransactionStatus

MAX_LIMIT = 200


@dataclass(frozen=True, slots=True)
class ListTransactionsQuery:
    user_id: int | None = None
    status: str | None = None
    limit: int = 50
    cursor: str | None = None


@dataclass(frozen=True, slots=True)
class TransactionPage:
    items: list[Transaction]
    next_cursor: str | None


class ListTransactions:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, query: ListTransactionsQuery) -> TransactionPage:
        if not 1 <= query.limit <= MAX_LIMIT:
            raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}")
        status = _parse_status(query.status)
        after = decode_cursor(query.cursor) if query.cursor else None
        async with self._uow() as uow:
            # One extra row tells whether another page exists.
            rows = await uow.transactions.list(
                user_id=query.user_id, status=status, limit=query.limit + 1, after=after
            )
        items = rows[: query.limit]
        more = len(rows) > query.limit
        return TransactionPage(items, encode_cursor(items[-1]) if more and items else None)


def _parse_status(value: str | None) -> TransactionStatus | None:
    if value is None:
        return None
    try:
        return TransactionStatus(value)
    except ValueError:
        raise InvalidInput(f"unknown status {value!r}") from None


def encode_cursor(tx: Transaction) -> str:
    raw = f"{tx.created_at.isoformat()}|{tx.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> PageCursor:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, tx_id = raw.split("|", 1)
        created_at = datetime.fromisoformat(created)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput("cursor is not valid") from None
    if created_at.tzinfo is None or not tx_id:
        raise InvalidInput("cursor is not valid")
    return PageCursor(created_at=created_at, transaction_id=tx_id)
