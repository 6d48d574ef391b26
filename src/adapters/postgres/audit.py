"""AuditLog over PostgreSQL (append-only table, enforced by a trigger)."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

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
    def __init__(self, conn: AsyncConnection[Any]) -> None:
        self._conn = conn

    async def record(
        self, actor: str, action: str, subject_type: str, subject_id: str, details: dict[str, Any]
    ) -> None:
        await self._conn.execute(
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
        cur = await self._conn.execute(
            HISTORY, {"subject_type": subject_type, "subject_id": subject_id}
        )
        return [
            AuditEntry(occurred_at.astimezone(UTC), actor, action, details)
            for occurred_at, actor, action, details in await cur.fetchall()
        ]
