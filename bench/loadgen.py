"""Open-model HTTP load generator: a constant arrival rate, whatever the answers.

Request ``i`` is due at ``start + i / rate`` and is sent then, on an idle
keep-alive connection or a new one, even when earlier requests have not been
answered: slow answers cannot slow the arrivals down and hide their own
latency (the "coordinated omission" of closed-loop tools). Latency is measured
from the scheduled time, so any lag of the generator itself counts against
the service too; the lag is recorded separately so a saturated generator is
visible.

The client is a minimal HTTP/1.1 one on asyncio protocols with httptools'
C parser (uvloop when available): a few tens of microseconds per request,
so one process offers thousands of requests per second on a shared core.
For every request it keeps the send lag, the latency, the status and the
``Server-Timing`` durations (``gateway``, ``app``, ``total``).

Run as a process of its own (the harness does): ``python -m bench.loadgen
SPEC.json OUT.json``; progress goes to stdout as JSON lines.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import sys
import time
from array import array
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httptools

# Requests still unanswered this long after their scheduled time are errors.
DEFAULT_TIMEOUT_S = 10.0
# More connections than this and new requests wait for one (the wait counts).
DEFAULT_MAX_CONNECTIONS = 1024
KEEP_ERROR_SAMPLES = 5


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


def parse_server_timing(value: bytes) -> tuple[float, float, float]:
    """``gateway;dur=50.1, app;dur=2.3, total;dur=52.4`` → (50.1, 2.3, 52.4); NaN if absent."""
    found = {b"gateway": math.nan, b"app": math.nan, b"total": math.nan}
    for metric in value.split(b","):
        name, _, params = metric.strip().partition(b";")
        for param in params.split(b";"):
            key, _, number = param.strip().partition(b"=")
            if key == b"dur" and name in found:
                with contextlib.suppress(ValueError):
                    found[name] = float(number)
    return found[b"gateway"], found[b"app"], found[b"total"]


class _Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection; one request at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[tuple[int, bytes, bytes]] | None = None
        self._timing = b""
        self._body: list[bytes] = []
        self.transport: asyncio.Transport | None = None
        self.reusable = True

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(exc)

    def connection_lost(self, exc: Exception | None) -> None:
        self.reusable = False
        self._fail(exc or ConnectionResetError("connection closed"))

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._timing = b""
        self._body = []

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"server-timing":
            self._timing = value

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        self.reusable = self.reusable and self._parser.should_keep_alive()
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result((self._parser.get_status_code(), self._timing, b"".join(self._body)))

    def _fail(self, exc: BaseException) -> None:
        self.reusable = False
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    async def request(self, data: bytes) -> tuple[int, bytes, bytes]:
        assert self.transport is not None
        self._waiter = self._loop.create_future()
        self.transport.write(data)
        return await self._waiter

    def close(self) -> None:
        self.reusable = False
        if self.transport is not None:
            self.transport.close()


def _encode(template: RequestTemplate, host: str, port: int) -> tuple[bytes, bytes]:
    """Head (without the blank line) and body of a template, ready to send."""
    lines = [f"{template.method} {template.path} HTTP/1.1", f"Host: {host}:{port}"]
    lines += [f"{k}: {v}" for k, v in template.headers]
    if template.body or template.method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(template.body)}")
    return ("\r\n".join(lines) + "\r\n").encode("latin-1"), template.body


class LoadGenerator:
    def __init__(
        self, spec: LoadSpec, on_progress: Callable[[dict[str, Any]], None] | None = None
    ) -> None:
        self.spec = spec
        self._encoded = [_encode(t, spec.host, spec.port) for t in spec.templates]
        self._idle: list[_Connection] = []
        self._open = 0
        self._slots = asyncio.Semaphore(spec.max_connections)
        self._on_progress = on_progress
        n_hint = max(1, int(spec.rate * spec.duration_s) + 16)
        self._scheduled = array("d")
        self._lag = array("d")
        self._latency = array("d", [math.nan]) * n_hint
        self._status = array("i", [0]) * n_hint
        self._gateway = array("d", [math.nan]) * n_hint
        self._app = array("d", [math.nan]) * n_hint
        self._total = array("d", [math.nan]) * n_hint
        self._finished = array("d", [math.nan]) * n_hint
        self._done = 0
        self._errors: dict[str, int] = {}
        self._error_samples: list[str] = []
        self._opened = 0
        self._t0 = 0.0
        self._running: set[asyncio.Task[None]] = set()

    # -- bookkeeping ------------------------------------------------------
    def _ensure(self, seq: int) -> None:
        while seq >= len(self._status):
            grow = max(1024, len(self._status))
            self._latency.extend([math.nan] * grow)
            self._status.extend([0] * grow)
            self._gateway.extend([math.nan] * grow)
            self._app.extend([math.nan] * grow)
            self._total.extend([math.nan] * grow)
            self._finished.extend([math.nan] * grow)

    def _error(self, seq: int, kind: str, detail: str) -> None:
        self._errors[kind] = self._errors.get(kind, 0) + 1
        if len(self._error_samples) < KEEP_ERROR_SAMPLES:
            self._error_samples.append(f"#{seq}: {kind}: {detail[:300]}")

    # -- connections ------------------------------------------------------
    async def _connection(self) -> _Connection:
        while self._idle:
            conn = self._idle.pop()
            if conn.reusable:
                return conn
            self._open -= 1
        loop = asyncio.get_running_loop()
        _, conn = await loop.create_connection(
            lambda: _Connection(loop), self.spec.host, self.spec.port
        )
        self._open += 1
        self._opened += 1
        return conn

    def _release(self, conn: _Connection) -> None:
        if conn.reusable:
            self._idle.append(conn)
        else:
            conn.close()
            self._open -= 1

    # -- one request --------------------------------------------------------
    async def _one(self, seq: int, due: float) -> None:
        head, body = self._encoded[seq % len(self._encoded)]
        if self.spec.unique_header:
            head += f"{self.spec.unique_header}: {self.spec.unique_prefix}{seq}\r\n".encode()
        data = head + b"\r\n" + body
        conn: _Connection | None = None
        # From the scheduled time, or from the send when it went a little early
        # (the scheduler does not sleep for less than half a millisecond).
        origin = min(due, time.monotonic())
        try:
            remaining = due + self.spec.timeout_s - time.monotonic()
            async with asyncio.timeout(max(remaining, 0.0)), self._slots:
                conn = await self._connection()
                status, timing, response_body = await conn.request(data)
                self._release(conn)
                conn = None
            now = time.monotonic()
            self._status[seq] = status
            self._latency[seq] = (now - origin) * 1000
            self._finished[seq] = now - self._t0
            if timing:
                self._gateway[seq], self._app[seq], self._total[seq] = parse_server_timing(timing)
            if not 200 <= status < 300:
                self._error(seq, f"http {status}", response_body.decode("utf-8", "replace"))
        except TimeoutError:
            self._error(seq, "timeout", f"no answer within {self.spec.timeout_s} s")
        except Exception as exc:  # connection refused or reset, garbled answer
            self._error(seq, type(exc).__name__, str(exc))
        finally:
            self._done += 1
            if conn is not None:  # failed mid-request: the connection is unusable
                conn.close()
                self._open -= 1

    # -- schedules ----------------------------------------------------------
    async def run(self) -> LoadResult:
        if self.spec.closed_connections > 0:
            await self._run_closed()
        else:
            await self._run_open()
        return self._result()

    async def _run_open(self) -> None:
        spec = self.spec
        interval = 1.0 / spec.rate
        total = max(1, round(spec.rate * spec.duration_s))
        loop = asyncio.get_running_loop()
        self._t0 = time.monotonic() + 0.05
        progress = asyncio.create_task(self._progress(total))
        for seq in range(total):
            due = self._t0 + seq * interval
            delay = due - time.monotonic()
            if delay > 0.0005:
                await asyncio.sleep(delay)
            self._ensure(seq)
            self._scheduled.append(due - self._t0)
            self._lag.append((time.monotonic() - due) * 1000)
            task = loop.create_task(self._one(seq, due))
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        if self._running:
            await asyncio.wait(list(self._running))
        progress.cancel()
        self._close_idle()
        self._report(total, final=True)

    async def _run_closed(self) -> None:
        spec = self.spec
        self._t0 = time.monotonic()
        end = self._t0 + spec.duration_s
        counter = iter(range(sys.maxsize))

        async def worker() -> None:
            while time.monotonic() < end:
                seq = next(counter)
                self._ensure(seq)
                now = time.monotonic()
                self._scheduled.append(now - self._t0)
                self._lag.append(0.0)
                await self._one(seq, now)

        progress = asyncio.create_task(self._progress(None))
        await asyncio.gather(*(worker() for _ in range(spec.closed_connections)))
        progress.cancel()
        self._close_idle()
        self._report(None, final=True)

    def _close_idle(self) -> None:
        for conn in self._idle:
            conn.close()
        self._idle.clear()

    async def _progress(self, total: int | None) -> None:
        while True:
            await asyncio.sleep(0.5)
            self._report(total)

    def _report(self, total: int | None, final: bool = False) -> None:
        if self._on_progress is None:
            return
        sent = len(self._scheduled)
        done = self._done
        recent = [v for v in self._latency[max(0, done - 2000) : done] if not math.isnan(v)]
        recent.sort()
        self._on_progress(
            {
                "label": self.spec.label,
                "elapsed_s": round(time.monotonic() - self._t0, 2),
                "sent": sent,
                "total": total,
                "done": done,
                "in_flight": sent - done,
                "errors": sum(self._errors.values()),
                "connections": self._open,
                "p99_ms": round(recent[int(0.99 * (len(recent) - 1))], 1) if recent else None,
                "final": final,
            }
        )

    def _result(self) -> LoadResult:
        n = len(self._scheduled)
        return LoadResult(
            label=self.spec.label,
            rate=self.spec.rate,
            duration_s=self.spec.duration_s,
            closed=self.spec.closed_connections > 0,
            scheduled=list(self._scheduled),
            lag_ms=list(self._lag),
            latency_ms=list(self._latency[:n]),
            status=list(self._status[:n]),
            gateway_ms=list(self._gateway[:n]),
            app_ms=list(self._app[:n]),
            total_ms=list(self._total[:n]),
            finished=list(self._finished[:n]),
            connections_opened=self._opened,
            errors=dict(self._errors),
            error_samples=list(self._error_samples),
        )


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def run_load(
    spec: LoadSpec, on_progress: Callable[[dict[str, Any]], None] | None = None
) -> LoadResult:
    """Run one load step in this process, on a fresh (uv)loop."""
    loop = _new_loop()
    try:
        return loop.run_until_complete(LoadGenerator(spec, on_progress).run())
    finally:
        loop.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.loadgen", description=__doc__)
    parser.add_argument("spec", type=Path, help="LoadSpec as JSON")
    parser.add_argument("out", type=Path, help="where to write the LoadResult JSON")
    args = parser.parse_args(argv)
    spec = LoadSpec.from_json(json.loads(args.spec.read_text()))

    def progress(line: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(line) + "\n")
        sys.stdout.flush()

    result = run_load(spec, progress)
    args.out.write_text(json.dumps(result.to_json()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
