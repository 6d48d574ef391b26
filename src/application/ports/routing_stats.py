"""Port for the recent outcomes success_rate routes by."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from domain.routing_stats import GatewayStats
from domain.transaction import AttemptOutcome


class RoutingStatistics(Protocol):
    """Per gateway and country sliding windows of attempts (this process, merged)."""

    def snapshot(self, country: str) -> Mapping[str, GatewayStats]:
        """Each gateway's window in this country, as of now."""

    def record(
        self, country: str, gateway_id: str, outcome: AttemptOutcome, latency_ms: int | None
    ) -> None:
        """One finished attempt, seen by this process."""

    def everywhere(self) -> Mapping[tuple[str, str], GatewayStats]:
        """Every (country, gateway) window, for operators and metrics."""
