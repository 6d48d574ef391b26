"""CallbackInbox over PostgreSQL: raw callbacks, encrypted, once per event id."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

from adapters.crypto.keyring import Keyring
from application.ports import GatewayCallback

INSERT = """
INSERT INTO callback_inbox (gateway_id, event_id, transaction_id, body_enc)
VALUES (%(gateway_id)s, %(event_id)s, %(transaction_id)s, %(body_enc)s)
ON CONFLICT ON CONSTRAINT callback_inbox_once DO NOTHING
"""

STATUS = """
SELECT status FROM callback_inbox WHERE gateway_id = %(gateway_id)s AND event_id = %(event_id)s
FOR UPDATE
"""

RESOLVE = """
UPDATE callback_inbox SET status = %(status)s, detail = %(detail)s, resolved_at = now()
WHERE gateway_id = %(gateway_id)s AND event_id = %(event_id)s
"""


def inbox_aad(gateway_id: str, event_id: str) -> bytes:
    """Binds a stored body to its (gateway, event id): it will not decrypt elsewhere."""
    return f"callback_inbox.body_enc:{gateway_id}:{event_id}".encode()


class PostgresCallbackInbox:
    def __init__(self, conn: AsyncConnection[Any], keyring: Keyring) -> None:
        self._conn = conn
        self._keyring = keyring

    async def add(self, callback: GatewayCallback, raw_body: bytes) -> bool:
        body_enc = self._keyring.encrypt(
            raw_body, inbox_aad(callback.gateway_id, callback.event_id)
        )
        async with self._conn.cursor() as cur:
            await cur.execute(
                INSERT,
                {
                    "gateway_id": callback.gateway_id,
                    "event_id": callback.event_id,
                    "transaction_id": callback.transaction_id,
                    "body_enc": body_enc,
                },
            )
            return cur.rowcount == 1

    async def status_of(self, gateway_id: str, event_id: str) -> str | None:
        # FOR UPDATE: two workers given the same callback serialise here, so
        # the second sees the first one's result instead of applying again.
        async with self._conn.cursor() as cur:
            await cur.execute(STATUS, {"gateway_id": gateway_id, "event_id": event_id})
            row = await cur.fetchone()
        return str(row[0]) if row else None

    async def resolve(self, gateway_id: str, event_id: str, status: str, detail: str) -> None:
        async with self._conn.cursor() as cur:
            await cur.execute(
                RESOLVE,
                {
                    "gateway_id": gateway_id,
                    "event_id": event_id,
                    "status": status,
                    "detail": detail,
                },
            )
