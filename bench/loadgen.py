"""Open-model HTTP load generator: a constant arrival rate, whatever the answers.

Request ``i`` is due at ``start + i / rate`` and is sent then, on an idle
keep-alive connection or a new one, even when earlier requests have not been
answered: slow answers cannot slow the arrivals down and hide their own
latency (the "coordinated omission" of closed-loop tools). Latency is measured
from the scheduled time, so any lag of the generator itself counts against
the service too; the lag is recorded separately so a saturated generator is
visible.

The client is a minimal HTTP/1.1 one on asyncio protocols with httptools'
C parser (uvloop when available; ``bench.connection``): a few tens of
microseconds per request, so one process offers thousands of requests per
second on a shared core. For every request it keeps the send lag, the
latency, the status and the ``Server-Timing`` durations (``gateway``,
``app``, ``total``; ``bench.recording``).

Run as a process of its own (the harness does): ``python -m bench.loadgen
SPEC.json OUT.json``; progress goes to stdout as JSON lines.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.connection import Connection, encode, parse_server_timing
from bench.loadspec import LoadResult, LoadSpec
from bench.recording import Recording


class LoadGenerator:
    """Sends one :class:`LoadSpec` (open model, or a closed loop) and records every answer."""

    def __init__(
        self, spec: LoadSpec, on_progress: Callable[[dict[str, Any]], None] | None = None
    ) -> None:
        self.spec = spec
        self._encoded = [encode(t, spec.host, spec.port) for t in spec.templates]
        self._idle: list[Connection] = []
        self._open = 0
        self._slots = asyncio.Semaphore(spec.max_connections)
        self._on_progress = on_progress
        self._rec = Recording(max(1, int(spec.rate * spec.duration_s) + 16))
        self._opened = 0
        self._t0 = 0.0
        self._running: set[asyncio.Task[None]] = set()

    # -- connections ------------------------------------------------------
    async def _connection(self) -> Connection:
        while self._idle:
            conn = self._idle.pop()
            if conn.reusable:
                return conn
            self._open -= 1
        loop = asyncio.get_running_loop()
        _, conn = await loop.create_connection(
            lambda: Connection(loop), self.spec.host, self.spec.port
        )
        self._open += 1
        self._opened += 1
        return conn

    def _release(self, conn: Connection) -> None:
        if conn.reusable:
            self._idle.append(conn)
        else:
            conn.close()
            self._open -= 1

    # -- one request --------------------------------------------------------
    async def _one(self, seq: int, due: float) -> None:
        rec = self._rec
        head, body = self._encoded[seq % len(self._encoded)]
        if self.spec.unique_header:
            head += f"{self.spec.unique_header}: {self.spec.unique_prefix}{seq}\r\n".encode()
        data = head + b"\r\n" + body
        conn: Connection | None = None
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
            rec.status[seq] = status
            rec.latency[seq] = (now - origin) * 1000
            rec.finished[seq] = now - self._t0
            if timing:
                rec.gateway[seq], rec.app[seq], rec.total[seq] = parse_server_timing(timing)
            if not 200 <= status < 300:
                rec.error(seq, f"http {status}", response_body.decode("utf-8", "replace"))
        except TimeoutError:
            rec.error(seq, "timeout", f"no answer within {self.spec.timeout_s} s")
        except Exception as exc:  # connection refused or reset, garbled answer
            rec.error(seq, type(exc).__name__, str(exc))
        finally:
            rec.done += 1
            if conn is not None:  # failed mid-request: the connection is unusable
                conn.close()
                self._open -= 1

    # -- schedules ----------------------------------------------------------
    async def run(self) -> LoadResult:
        if self.spec.closed_connections > 0:
            await self._run_closed()
        else:
            await self._run_open()
        return self._rec.result(self.spec, self._opened)

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
            self._rec.ensure(seq)
            self._rec.scheduled.append(due - self._t0)
            self._rec.lag.append((time.monotonic() - due) * 1000)
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
                self._rec.ensure(seq)
                now = time.monotonic()
                self._rec.scheduled.append(now - self._t0)
                self._rec.lag.append(0.0)
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
        elapsed = round(time.monotonic() - self._t0, 2)
        self._on_progress(self._rec.progress(self.spec.label, elapsed, total, self._open, final))


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
