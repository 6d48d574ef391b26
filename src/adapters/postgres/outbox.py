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

from adapters.messages import (
    CALLBACK_EVENT,
    CALLBACKS_TOPIC,
    TRANSACTIONS_TOPIC,
    callback_envelope,
    envelope,
)
from application.ports import GatewayCallback
from domain.transaction import TransactionEvent

INSERT_EVENT = """
INSERT INTO outbox (event_id, topic, key, event_type, transaction_id, version, payload)
VALUES (%(event_id)s, %(topic)s, %(key)s, %(event_type)s, %(transaction_id)s,
        %(version)s, %(payload)s)
"""


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

    async def put_callback(self, callback: GatewayCallback) -> None:
        """Queue a verified callback for the applying worker, keyed by transaction."""
        event_id = uuid.uuid4()
        async with self._conn.cursor() as cur:
            await cur.execute(
                INSERT_EVENT,
                {
                    "event_id": event_id,
                    "topic": CALLBACKS_TOPIC,
                    "key": callback.transaction_id,
                    "event_type": CALLBACK_EVENT,
                    "transaction_id": _uuid_or_none(callback.transaction_id),
                    "version": None,
                    "payload": Jsonb(callback_envelope(event_id, callback)),
                },
            )


def _uuid_or_none(value: str) -> uuid.UUID | None:
    # A callback may name a transaction id that is not even a UUID (a forged or
    # foreign one that still carried a valid signature); it is applied - and
    # flagged - like any other, but cannot fill the uuid column.
    try:
        return uuid.UUID(value)
    except ValueError:
        return None
