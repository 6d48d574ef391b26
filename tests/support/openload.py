"""Open-model load from a process of its own (the benchmark's generator).

Arrivals follow the clock whatever the answers (no coordinated omission), so
offering more than the service holds really is overload. A separate process
keeps the generator off the GIL of a server running in the test process.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.loadspec import LoadResult, LoadSpec, RequestTemplate

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True, slots=True)
class Answer:
    """One request: when it was due (s from the start), latency (ms), status.

    Status 0 and latency NaN: no answer at all (refused, reset, timed out).
    """

    due_s: float
    latency_ms: float
    status: int


def json_posts(path: str, bodies: list[dict[str, object]], api_key: str) -> list[RequestTemplate]:
    headers = (("Authorization", f"Bearer {api_key}"), ("Content-Type", "application/json"))
    return [RequestTemplate("POST", path, headers, json.dumps(b).encode()) for b in bodies]


def offer(
    base_port: int,
    templates: list[RequestTemplate],
    rate: float,
    duration_s: float,
    *,
    closed_connections: int = 0,
    unique_header: str | None = None,
    label: str = "",
    timeout_s: float = 10.0,
) -> list[Answer]:
    """Send ``rate``/s for ``duration_s`` (or a closed loop) to 127.0.0.1; every answer."""
    spec = LoadSpec(
        host="127.0.0.1",
        port=base_port,
        templates=templates,
        rate=rate,
        duration_s=duration_s,
        timeout_s=timeout_s,
        closed_connections=closed_connections,
        unique_header=unique_header,
        unique_prefix=f"{label}-",
        label=label,
    )
    with tempfile.TemporaryDirectory() as tmp:
        spec_path, out_path = Path(tmp) / "spec.json", Path(tmp) / "out.json"
        spec_path.write_text(json.dumps(spec.to_json()))
        subprocess.run(
            [sys.executable, "-m", "bench.loadgen", str(spec_path), str(out_path)],
            check=True,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            timeout=duration_s + timeout_s + 30,
        )
        result = LoadResult.from_json(json.loads(out_path.read_text()))
    return [
        Answer(due, math.nan if latency is None else latency, status)
        for due, latency, status in zip(
            result.scheduled, result.latency_ms, result.status, strict=True
        )
    ]


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) by nearest rank; NaN-free input expected."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
