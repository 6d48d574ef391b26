"""Liveness and readiness probes (no key)."""

from __future__ import annotations

from litestar import Controller, Response, get
from litestar.di import NamedDependency

from application.ports import Database


class HealthController(Controller):
    path = "/"
    tags = ["health"]

    @get("/health", operation_id="health")
    async def health(self) -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @get("/ready", operation_id="ready")
    async def ready(self, database: NamedDependency[Database]) -> Response[dict[str, object]]:
        """Dependencies answer: 200 when the database does, 503 otherwise."""
        db_ok = await database.ping()
        body: dict[str, object] = {
            "status": "ready" if db_ok else "unavailable",
            "checks": {"database": "ok" if db_ok else "unavailable"},
        }
        return Response(body, status_code=200 if db_ok else 503)
