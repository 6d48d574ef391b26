"""What the load generator records of every request, in preallocated arrays.

Index = sequence number. Arrays of doubles rather than lists of objects keep
the per-request bookkeeping cheap at thousands of requests per second.
"""

from __future__ import annotations

import math
from array import array
from typing import Any

from bench.loadspec import LoadResult, LoadSpec

KEEP_ERROR_SAMPLES = 5


class Recording:
    """Send lag, latency, status and ``Server-Timing`` durations of each request."""

    def __init__(self, n_hint: int) -> None:
        self.scheduled = array("d")
        self.lag = array("d")
        self.latency = array("d", [math.nan]) * n_hint
        self.status = array("i", [0]) * n_hint
        self.gateway = array("d", [math.nan]) * n_hint
        self.app = array("d", [math.nan]) * n_hint
        self.total = array("d", [math.nan]) * n_hint
        self.finished = array("d", [math.nan]) * n_hint
        self.done = 0
        self.errors: dict[str, int] = {}
        self.error_samples: list[str] = []

    def ensure(self, seq: int) -> None:
        """Room for request ``seq`` in the answer arrays."""
        while seq >= len(self.status):
            grow = max(1024, len(self.status))
            self.latency.extend([math.nan] * grow)
            self.status.extend([0] * grow)
            self.gateway.extend([math.nan] * grow)
            self.app.extend([math.nan] * grow)
            self.total.extend([math.nan] * grow)
            self.finished.extend([math.nan] * grow)

    def error(self, seq: int, kind: str, detail: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1
        if len(self.error_samples) < KEEP_ERROR_SAMPLES:
            self.error_samples.append(f"#{seq}: {kind}: {detail[:300]}")

    def progress(
        self, label: str, elapsed_s: float, total: int | None, connections: int, final: bool
    ) -> dict[str, Any]:
        """A progress line: counts so far and the p99 of the last 2,000 answers."""
        sent = len(self.scheduled)
        done = self.done
        recent = [v for v in self.latency[max(0, done - 2000) : done] if not math.isnan(v)]
        recent.sort()
        return {
            "label": label,
            "elapsed_s": elapsed_s,
            "sent": sent,
            "total": total,
            "done": done,
            "in_flight": sent - done,
            "errors": sum(self.errors.values()),
            "connections": connections,
            "p99_ms": round(recent[int(0.99 * (len(recent) - 1))], 1) if recent else None,
            "final": final,
        }

    def result(self, spec: LoadSpec, connections_opened: int) -> LoadResult:
        n = len(self.scheduled)
        return LoadResult(
            label=spec.label,
            rate=spec.rate,
            duration_s=spec.duration_s,
            closed=spec.closed_connections > 0,
            scheduled=list(self.scheduled),
            lag_ms=list(self.lag),
            latency_ms=list(self.latency[:n]),
            status=list(self.status[:n]),
            gateway_ms=list(self.gateway[:n]),
            app_ms=list(self.app[:n]),
            total_ms=list(self.total[:n]),
            finished=list(self.finished[:n]),
            connections_opened=connections_opened,
            errors=dict(self.errors),
            error_samples=list(self.error_samples),
        )
