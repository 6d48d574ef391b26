"""AuditLog over PostgreSQL (append-only table, enforced by a trigger)."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from psycopg.types.json import Jsonb

from adapters.postgres.session import Session
from application.ports import AuditEntry

INSERT = """
INSERT INTO audit_log (actor, action, subject_type, subject_id, details)
VALUES (%(actor)s, %(action)s, %(subject_type)s, %(subject_id)s, %(details)s)
"""

HISTORY = """
SELECT occurred_at, actor, action, details FROM audit_log
WHERE subject_type = %(subject_type)s AND subject_id = %(subject_id)s
ORDER BY id
"""


class PostgresAuditLog:
    def __init__(self, session: Session) -> None:
        self._session = session

    async def record(
        self, actor: str, action: str, subject_type: str, subject_id: str, details: dict[str, Any]
    ) -> None:
        """Queued: written with the unit of work's commit."""
        self._session.queue(
            INSERT,
            {
                "actor": actor,
                "action": action,
                "subject_type": subject_type,
                "subject_id": subject_id,
                "details": Jsonb(details),
            },
        )

    async def history(self, subject_type: str, subject_id: str) -> list[AuditEntry]:
        rows = await self._session.fetch(
            HISTORY, {"subject_type": subject_type, "subject_id": subject_id}
        )
        return [
            AuditEntry(r["occurred_at"].astimezone(UTC), r["actor"], r["action"], r["details"])
            for r in rows
        ]
