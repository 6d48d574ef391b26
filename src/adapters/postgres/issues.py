"""IssueLog over PostgreSQL: reconciliation findings, recorded once each."""

from __future__ import annotations

import builtins
from datetime import UTC
from typing import Any

from psycopg import AsyncConnection

from application.ports import ReconciliationIssue

FLAG = """
INSERT INTO reconciliation_issues (transaction_id, gateway_id, kind, detail)
VALUES (%(transaction_id)s, %(gateway_id)s, %(kind)s, %(detail)s)
ON CONFLICT ON CONSTRAINT reconciliation_issues_once DO NOTHING
"""

LIST = """
SELECT id, transaction_id, gateway_id, kind, detail, created_at, resolved_at
FROM reconciliation_issues
WHERE %(all)s OR resolved_at IS NULL
ORDER BY id DESC
LIMIT %(limit)s
"""


class PostgresIssueLog:
    def __init__(self, conn: AsyncConnection[Any]) -> None:
        self._conn = conn

    async def flag(
        self, transaction_id: str, gateway_id: str | None, kind: str, detail: str
    ) -> bool:
        cur = await self._conn.execute(
            FLAG,
            {
                "transaction_id": transaction_id,
                "gateway_id": gateway_id,
                "kind": kind,
                "detail": detail,
            },
        )
        return cur.rowcount == 1

    async def list(self, *, open_only: bool, limit: int) -> builtins.list[ReconciliationIssue]:
        cur = await self._conn.execute(LIST, {"all": not open_only, "limit": limit})
        return [
            ReconciliationIssue(
                id=row[0],
                transaction_id=row[1],
                gateway_id=row[2],
                kind=row[3],
                detail=row[4],
                created_at=row[5].astimezone(UTC),
                resolved_at=row[6].astimezone(UTC) if row[6] else None,
            )
            for row in await cur.fetchall()
        ]
