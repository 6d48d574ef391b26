"""Transactional outbox: messages are rows written with the state they describe.

The relay publishes them later; because the rows commit (or roll back) with
the state change, no message is lost and none describes a change that never
happened. Lifecycle events are written by the unit of work's commit (see
write_path.py); this port queues the other kind: verified callbacks on
their way to the worker that applies them.
"""

from __future__ import annotations

import uuid

from psycopg.types.json import Jsonb

from adapters.messages import CALLBACK_EVENT, CALLBACKS_TOPIC, callback_envelope
from adapters.postgres.session import Session
from application.ports import GatewayCallback

INSERT_CALLBACK = """
INSERT INTO outbox (event_id, topic, key, event_type, transaction_id, version, payload)
VALUES (%(event_id)s, %(topic)s, %(key)s, %(event_type)s, %(transaction_id)s, NULL, %(payload)s)
"""


class PostgresEventOutbox:
    """EventOutbox over the unit of work's session (and so its transaction)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    async def put_callback(self, callback: GatewayCallback) -> None:
        """Queue a verified callback for the applying worker, keyed by transaction."""
        event_id = uuid.uuid4()
        self._session.queue(
            INSERT_CALLBACK,
            {
                "event_id": event_id,
                "topic": CALLBACKS_TOPIC,
                "key": callback.transaction_id,
                "event_type": CALLBACK_EVENT,
                "transaction_id": _uuid_or_none(callback.transaction_id),
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
