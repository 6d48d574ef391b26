"""IssueLog over PostgreSQL: reconciliation findings, recorded once each."""

from __future__ import annotations

import builtins
from datetime import UTC

from adapters.postgres.session import Session
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
    def __init__(self, session: Session) -> None:
        self._session = session

    async def flag(
        self, transaction_id: str, gateway_id: str | None, kind: str, detail: str
    ) -> None:
        """Queued with the commit; a finding already known is kept as it was."""
        self._session.queue(
            FLAG,
            {
                "transaction_id": transaction_id,
                "gateway_id": gateway_id,
                "kind": kind,
                "detail": detail,
            },
        )

    async def list(self, *, open_only: bool, limit: int) -> builtins.list[ReconciliationIssue]:
        rows = await self._session.fetch(LIST, {"all": not open_only, "limit": limit})
        return [
            ReconciliationIssue(
                id=row["id"],
                transaction_id=row["transaction_id"],
                gateway_id=row["gateway_id"],
                kind=row["kind"],
                detail=row["detail"],
                created_at=row["created_at"].astimezone(UTC),
                resolved_at=row["resolved_at"].astimezone(UTC) if row["resolved_at"] else None,
            )
            for row in rows
        ]
