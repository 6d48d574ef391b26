"""Reconciliation report (admin key)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from application.list_issues import ListIssues
from entrypoints.http.auth import admin_guard
from entrypoints.http.params import digits, integer_schema
from entrypoints.http.schemas import problem_responses


class IssueOut(msgspec.Struct):
    id: int
    transaction_id: str
    gateway_id: str | None
    kind: str
    detail: str
    created_at: datetime
    resolved_at: datetime | None


class ReconciliationController(Controller):
    path = "/reconciliation"
    tags = ["operators"]
    guards = [admin_guard]

    @get(
        "/issues",
        operation_id="listReconciliationIssues",
        responses=problem_responses(400, 401, 403),
    )
    async def issues(
        self,
        list_issues: NamedDependency[ListIssues],
        status: Annotated[Literal["open", "all"], QueryParameter()] = "open",
        # A string read by `digits`: an int parameter took "1e1" and "5.0".
        limit: Annotated[
            str, QueryParameter(schema_extra=integer_schema(500, default=100))
        ] = "100",
    ) -> list[IssueOut]:
        """Findings a human must look at, newest first.

        Kinds: `callback:<event>` (a callback contradicting our records, from
        another gateway, for another attempt's reference, another amount,
        currency or merchant account: stored, never applied),
        `callback_quarantined:<event>`, `amount_mismatch`, `reference_mismatch`,
        `contradiction`, `accepted_unknown_to_gateway`,
        `gateway_completed_we_failed`, `abandoned_attempt_completed` (money
        taken at a gateway we fell back from: refund it).
        """
        found = await list_issues.execute(
            open_only=status == "open", limit=digits(limit, "limit", maximum=500)
        )
        return [
            IssueOut(
                id=i.id,
                transaction_id=i.transaction_id,
                gateway_id=i.gateway_id,
                kind=i.kind,
                detail=i.detail,
                created_at=i.created_at,
                resolved_at=i.resolved_at,
            )
            for i in found
        ]
