"""Transactional outbox: events are rows written with the state they describe.

The relay publishes them to Kafka later; because the rows commit (or roll
back) with the state change, no event is lost and none describes a change
that never happened.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from domain.transaction import TransactionEvent

TRANSACTIONS_TOPIC = "payments.transactions.v1"

INSERT_EVENT = """
INSERT INTO outbox (event_id, topic, key, event_type, transaction_id, version, payload)
VALUES (%(event_id)s, %(topic)s, %(key)s, %(event_type)s, %(transaction_id)s,
        %(version)s, %(payload)s)
"""


def envelope(event_id: uuid.UUID, event: TransactionEvent) -> dict[str, Any]:
    """The message consumers receive; ``event_id`` and ``version`` let them dedupe."""
    return {
        "event_id": str(event_id),
        "type": event.type,
        "transaction_id": event.transaction_id,
        "version": event.version,
        "occurred_at": event.occurred_at.isoformat(),
        "data": event.data,
    }


class PostgresEventOutbox:
    """EventOutbox over the unit of work's connection (and so its transaction)."""

    def __init__(self, conn: AsyncConnection[Any]) -> None:
        self._conn = conn

    async def put(self, events: Sequence[TransactionEvent]) -> None:
        """Queue the events for the relay, keyed by transaction for ordering."""
        if not events:
            return
        rows = []
        for event in events:
            event_id = uuid.uuid4()
            rows.append(
                {
                    "event_id": event_id,
                    "topic": TRANSACTIONS_TOPIC,
                    "key": event.transaction_id,
                    "event_type": event.type,
                    "transaction_id": event.transaction_id,
                    "version": event.version,
                    "payload": Jsonb(envelope(event_id, event)),
                }
            )
        async with self._conn.cursor() as cur:
            await cur.executemany(INSERT_EVENT, rows)
