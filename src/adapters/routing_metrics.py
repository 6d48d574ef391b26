"""success_rate's windows as Prometheus gauges, read at scrape time."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from adapters.routing_stats import WindowedRoutingStats


class _RoutingWindows(Collector):
    def __init__(self) -> None:
        self.stats: WindowedRoutingStats | None = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        labels = ["country", "gateway"]
        rate = GaugeMetricFamily(
            "payments_routing_success_rate",
            "Acceptance rate over the routing window, per country and gateway.",
            labels=labels,
        )
        attempts = GaugeMetricFamily(
            "payments_routing_window_attempts",
            "Attempts in the routing window, per country and gateway.",
            labels=labels,
        )
        latency = GaugeMetricFamily(
            "payments_routing_latency_ms_p50",
            "Median attempt latency over the routing window, per country and gateway.",
            labels=labels,
        )
        if self.stats is not None:
            for (country, gateway_id), s in sorted(self.stats.everywhere().items()):
                attempts.add_metric([country, gateway_id], s.attempts)
                if s.rate is not None:
                    rate.add_metric([country, gateway_id], s.rate)
                if s.latency_ms_p50 is not None:
                    latency.add_metric([country, gateway_id], s.latency_ms_p50)
        yield rate
        yield attempts
        yield latency


_windows = _RoutingWindows()
REGISTRY.register(_windows)


def watched_routing_stats(window: int) -> WindowedRoutingStats:
    """The process's windows, exposed at /metrics (the latest ones built)."""
    stats = WindowedRoutingStats(window)
    _windows.stats = stats
    return stats
