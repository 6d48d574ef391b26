"""Liveness and readiness probes (no key)."""

from __future__ import annotations

from litestar import Controller, Response, get
from litestar.di import NamedDependency

from entrypoints.http.schemas import problem_responses
from entrypoints.readiness import Readiness


class HealthController(Controller):
    path = "/"
    tags = ["health"]

    @get("/health", operation_id="health")
    async def health(self) -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @get("/ready", operation_id="ready", responses=problem_responses(503))
    async def ready(self, readiness: NamedDependency[Readiness]) -> Response[dict[str, object]]:
        """Dependencies answer (database, Kafka when configured) and settlement keeps up.

        503 when a dependency is unavailable, or ``degraded`` when the oldest
        callback not yet applied is older than the threshold
        (``PAYMENTS_SETTLEMENT_DEGRADED_AFTER_S``): deposits would stay
        ``processing``.
        """
        report = await readiness.check()
        if report.ready:
            status = "ready"
        elif "unavailable" in report.checks.values():
            status = "unavailable"
        else:
            status = "degraded"
        body: dict[str, object] = {"status": status, "checks": report.checks}
        if report.settlement:
            body["settlement"] = report.settlement
        return Response(body, status_code=200 if report.ready else 503)
