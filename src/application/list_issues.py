"""Query: reconciliation findings for operators."""

from __future__ import annotations

from application.ports import ReconciliationIssue, UnitOfWorkFactory


class ListIssues:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(
        self, *, open_only: bool = True, limit: int = 100
    ) -> list[ReconciliationIssue]:
        async with self._uow() as uow:
            return await uow.issues.list(open_only=open_only, limit=limit)
