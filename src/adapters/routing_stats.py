"""success_rate's windows: per (country, gateway), the latest attempts' outcomes.

Each process appends what its own payments see at once; every few seconds
``replace`` swaps in the windows merged from PostgreSQL (every replica's
attempts, adapters/postgres/routing_stats.py), so replicas agree within a
refresh interval.
"""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Iterable, Mapping

from domain.routing_stats import GatewayStats
from domain.transaction import AttemptOutcome

Key = tuple[str, str]  # (country, gateway)


class WindowedRoutingStats:
    def __init__(self, window: int = 200) -> None:
        self._window = window
        self._outcomes: dict[Key, deque[tuple[bool, int | None]]] = {}

    def record(
        self, country: str, gateway_id: str, outcome: AttemptOutcome, latency_ms: int | None
    ) -> None:
        key = (country, gateway_id)
        window = self._outcomes.get(key)
        if window is None:
            window = self._outcomes[key] = deque(maxlen=self._window)
        window.append((outcome is AttemptOutcome.ACCEPTED, latency_ms))

    def replace(self, rows: Iterable[tuple[str, str, bool, int | None]]) -> None:
        """Swap in merged windows: (country, gateway, success, latency), oldest first."""
        merged: dict[Key, deque[tuple[bool, int | None]]] = {}
        for country, gateway_id, ok, latency in rows:
            key = (country, gateway_id)
            window = merged.get(key)
            if window is None:
                window = merged[key] = deque(maxlen=self._window)
            window.append((ok, latency))
        self._outcomes = merged

    def snapshot(self, country: str) -> Mapping[str, GatewayStats]:
        return {g: _stats(w) for (c, g), w in list(self._outcomes.items()) if c == country}

    def everywhere(self) -> Mapping[Key, GatewayStats]:
        return {key: _stats(w) for key, w in list(self._outcomes.items())}


def _stats(window: deque[tuple[bool, int | None]]) -> GatewayStats:
    latencies = [ms for _, ms in window if ms is not None]
    return GatewayStats(
        attempts=len(window),
        successes=sum(ok for ok, _ in window),
        latency_ms_p50=statistics.median(latencies) if latencies else None,
    )
