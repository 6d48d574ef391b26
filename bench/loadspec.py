"""What the load generator is given and what it gives back, as JSON between processes."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

# Requests still unanswered this long after their scheduled time are errors.
DEFAULT_TIMEOUT_S = 10.0
# More connections than this and new requests wait for one (the wait counts).
DEFAULT_MAX_CONNECTIONS = 1024


@dataclass(frozen=True, slots=True)
class RequestTemplate:
    method: str
    path: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""


@dataclass(slots=True)
class LoadSpec:
    """What to send: templates used round-robin, at ``rate`` per second for ``duration_s``.

    ``closed_connections`` > 0 switches to a closed loop instead (that many
    connections, each sending its next request as soon as the previous one is
    answered): only for measuring a maximum throughput, never latency.
    ``unique_header`` adds ``<name>: <prefix><run>-<seq>`` to every request
    (e.g. distinct Idempotency-Keys).
    """

    host: str
    port: int
    templates: list[RequestTemplate]
    rate: float
    duration_s: float
    timeout_s: float = DEFAULT_TIMEOUT_S
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    closed_connections: int = 0
    unique_header: str | None = None
    unique_prefix: str = ""
    label: str = ""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["templates"] = [
            {
                "method": t.method,
                "path": t.path,
                "headers": [list(h) for h in t.headers],
                "body": t.body.decode("latin-1"),
            }
            for t in self.templates
        ]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LoadSpec:
        data = dict(data)
        data["templates"] = [
            RequestTemplate(
                t["method"],
                t["path"],
                tuple((k, v) for k, v in t["headers"]),
                t["body"].encode("latin-1"),
            )
            for t in data["templates"]
        ]
        return cls(**data)


@dataclass(slots=True)
class LoadResult:
    """Per request (index = sequence number): what happened, in milliseconds.

    ``status`` 0 is a transport error or timeout; ``gateway_ms`` etc. are NaN
    when the answer had no ``Server-Timing``. ``started``/``finished`` are
    monotonic seconds relative to the first scheduled request.
    """

    label: str
    rate: float
    duration_s: float
    closed: bool
    scheduled: list[float] = field(default_factory=list)
    lag_ms: list[float] = field(default_factory=list)
    latency_ms: list[float] = field(default_factory=list)
    status: list[int] = field(default_factory=list)
    gateway_ms: list[float] = field(default_factory=list)
    app_ms: list[float] = field(default_factory=list)
    total_ms: list[float] = field(default_factory=list)
    finished: list[float] = field(default_factory=list)
    connections_opened: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)

    @property
    def sent(self) -> int:
        return len(self.status)

    def to_json(self) -> dict[str, Any]:
        return {k: _finite(v) for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LoadResult:
        out = cls(**data)
        for name in ("gateway_ms", "app_ms", "total_ms"):
            setattr(out, name, [math.nan if v is None else v for v in getattr(out, name)])
        return out


def _finite(value: Any) -> Any:
    if isinstance(value, list):
        return [None if isinstance(v, float) and math.isnan(v) else v for v in value]
    return value
