"""CallbackInbox over PostgreSQL: raw callbacks, encrypted, once per event id.

Besides the encrypted raw body each row keeps the verified callback's fields
(no payer data: the same fields travel on the callbacks topic), how often
applying it raised, and when to try again, so a callback that cannot be
applied is retried by the settlement sweep and, past its retries,
quarantined, while every other callback goes on.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import msgspec
from psycopg.types.json import Jsonb

from adapters.crypto.keyring import Keyring
from adapters.messages import callback_envelope, callback_from_envelope
from adapters.postgres.session import Session
from application.ports import GatewayCallback, InboxState, SettlementBacklog

INSERT = """
INSERT INTO callback_inbox (gateway_id, event_id, transaction_id, body_enc, callback)
VALUES (%(gateway_id)s, %(event_id)s, %(transaction_id)s, %(body_enc)s, %(callback)s)
ON CONFLICT ON CONSTRAINT callback_inbox_once DO NOTHING
"""

# FOR UPDATE: two workers given the same callbacks serialise here, so the
# second sees the first one's result instead of applying again. Rows are
# locked in one order, so two batches cannot deadlock on them.
LOCK = """
SELECT gateway_id, event_id, status, apply_attempts FROM callback_inbox
WHERE (gateway_id, event_id) IN (
    SELECT * FROM unnest(%(gateway_ids)s::text[], %(event_ids)s::text[]))
ORDER BY id
FOR UPDATE
"""

# Every result of a batch in one statement (see ``queue_pending``).
RESOLVE = """
UPDATE callback_inbox i
SET status = r.status, detail = r.detail, resolved_at = now(), next_attempt_at = NULL
FROM jsonb_to_recordset(%(results)s::jsonb)
    AS r(gateway_id text, event_id text, status text, detail text)
WHERE i.gateway_id = r.gateway_id AND i.event_id = r.event_id
"""

# A failed apply: count it and either schedule the retry or quarantine it.
FAILED = """
UPDATE callback_inbox
SET apply_attempts = apply_attempts + 1, last_error = %(error)s,
    next_attempt_at = %(retry_at)s,
    status = CASE WHEN %(retry_at)s::timestamptz IS NULL THEN 'quarantined' ELSE status END,
    detail = CASE WHEN %(retry_at)s::timestamptz IS NULL THEN %(error)s ELSE detail END,
    resolved_at = CASE WHEN %(retry_at)s::timestamptz IS NULL THEN now() ELSE resolved_at END
WHERE gateway_id = %(gateway_id)s AND event_id = %(event_id)s
"""

DUE = """
SELECT callback FROM callback_inbox
WHERE status = 'received' AND next_attempt_at <= %(now)s AND callback IS NOT NULL
ORDER BY next_attempt_at
LIMIT %(limit)s
"""

BACKLOG = """
SELECT count(*) AS unapplied, extract(epoch FROM now() - min(received_at)) AS oldest_s
FROM callback_inbox WHERE status = 'received'
"""


def inbox_aad(gateway_id: str, event_id: str) -> bytes:
    """Binds a stored body to its (gateway, event id): it will not decrypt elsewhere."""
    return f"callback_inbox.body_enc:{gateway_id}:{event_id}".encode()


class PostgresCallbackInbox:
    def __init__(self, session: Session, keyring: Keyring) -> None:
        self._session = session
        self._keyring = keyring
        self._resolved: list[dict[str, str]] = []

    async def add(self, callback: GatewayCallback, raw_body: bytes) -> bool:
        body_enc = self._keyring.encrypt(
            raw_body, inbox_aad(callback.gateway_id, callback.event_id)
        )
        inserted = await self._session.execute(
            INSERT,
            {
                "gateway_id": callback.gateway_id,
                "event_id": callback.event_id,
                "transaction_id": callback.transaction_id,
                "body_enc": body_enc,
                "callback": Jsonb(callback_envelope(uuid.uuid4(), callback)),
            },
        )
        return inserted == 1

    async def lock(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], InboxState]:
        if not keys:
            return {}
        rows = await self._session.fetch(
            LOCK,
            {"gateway_ids": [g for g, _ in keys], "event_ids": [e for _, e in keys]},
            lock=True,
        )
        return {
            (r["gateway_id"], r["event_id"]): InboxState(r["status"], r["apply_attempts"])
            for r in rows
        }

    async def resolve(self, gateway_id: str, event_id: str, status: str, detail: str) -> None:
        self._resolved.append(
            {"gateway_id": gateway_id, "event_id": event_id, "status": status, "detail": detail}
        )

    def queue_pending(self) -> None:
        """Queue the results recorded so far as one statement (the unit of work calls it)."""
        if self._resolved:
            results, self._resolved = self._resolved, []
            self._session.queue(RESOLVE, {"results": msgspec.json.encode(results).decode()})

    def forget_pending(self) -> None:
        """Drop results recorded in a block that was rolled back."""
        self._resolved = []

    async def record_failure(
        self, gateway_id: str, event_id: str, error: str, retry_at: datetime | None
    ) -> None:
        self._session.queue(
            FAILED,
            {
                "gateway_id": gateway_id,
                "event_id": event_id,
                "error": error[:500],
                "retry_at": retry_at,
            },
        )

    async def due_for_retry(self, now: datetime, limit: int) -> list[GatewayCallback]:
        rows = await self._session.fetch(DUE, {"now": now, "limit": limit})
        return [callback_from_envelope(r["callback"]) for r in rows]

    async def backlog(self) -> SettlementBacklog:
        rows = await self._session.fetch(BACKLOG)
        return SettlementBacklog(int(rows[0]["unapplied"]), float(rows[0]["oldest_s"] or 0.0))
