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
        """Dependencies answer: database, and Kafka when configured (503 otherwise)."""
        checks = await readiness.check()
        ok = all(checks.values())
        body: dict[str, object] = {
            "status": "ready" if ok else "unavailable",
            "checks": {name: "ok" if up else "unavailable" for name, up in checks.items()},
        }
        return Response(body, status_code=200 if ok else 503)
