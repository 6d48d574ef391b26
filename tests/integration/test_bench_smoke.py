"""The benchmark harness's core pieces work (no PostgreSQL, no Kafka, a few seconds).

The open-model load generator against a trivial local HTTP server (in
process and as its own process, as the harness runs it), its closed-loop
mode, and the report writers (tables, JSON, plot) and parsers on synthetic
data. The full harness is ``uv run python -m bench --quick``.
"""

from __future__ import annotations

import asyncio
import json
import math
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from bench.ceilings import parse_pgbench
from bench.connection import parse_server_timing
from bench.loadgen import run_load
from bench.loadspec import LoadResult, LoadSpec, RequestTemplate
from bench.plot import plot
from bench.profile import summarize as summarize_profile
from bench.report import cost_table, markdown, step_table, write_json
from bench.steps import Step, judge, summarize

ROOT = Path(__file__).resolve().parents[2]
SLOW_S = 0.2


class TrivialServer:
    """HTTP/1.1 keep-alive server on loopback: ``/`` at once, ``/slow`` after SLOW_S."""

    def __init__(self) -> None:
        self.port = 0
        self.requests = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._client, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        server.close()
        self._loop.run_until_complete(server.wait_closed())

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                if length:
                    await reader.readexactly(length)
                self.requests += 1
                if head.startswith(b"GET /slow "):
                    await asyncio.sleep(SLOW_S)
                body = b'{"status":"ok"}'
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Server-Timing: gateway;dur=1.5, app;dur=0.5, total;dur=2.0\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def __enter__(self) -> TrivialServer:
        self._thread.start()
        self._ready.wait(5)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


@pytest.fixture(scope="module")
def server() -> Iterator[TrivialServer]:
    with TrivialServer() as srv:
        yield srv


def _spec(server: TrivialServer, path: str = "/", **changes: object) -> LoadSpec:
    spec = LoadSpec(
        host="127.0.0.1",
        port=server.port,
        templates=[RequestTemplate("GET", path)],
        rate=200,
        duration_s=1.0,
        timeout_s=5,
        label="smoke",
    )
    for name, value in changes.items():
        setattr(spec, name, value)
    return spec


def test_open_model_keeps_the_schedule_and_reads_server_timing(server: TrivialServer) -> None:
    progress: list[dict[str, object]] = []
    result = run_load(_spec(server), progress.append)
    assert result.sent == 200
    assert set(result.status) == {200}
    assert result.errors == {}
    # One request every 5 ms on the timeline, whatever the answers.
    assert result.scheduled[1] - result.scheduled[0] == pytest.approx(0.005)
    assert result.scheduled[-1] == pytest.approx(0.995)
    assert all(g == 1.5 for g in result.gateway_ms)
    assert all(a == 0.5 for a in result.app_ms)
    assert all(0 < latency < 1000 for latency in result.latency_ms)
    assert progress[-1]["final"] is True
    assert progress[-1]["done"] == 200
    step = summarize(result, "health")
    assert step.ok == 200
    assert step.achieved_rps == pytest.approx(200, rel=0.1)
    assert step.overhead.p50 == pytest.approx(step.latency.p50 - 1.5)


def test_slow_answers_do_not_slow_the_arrivals(server: TrivialServer) -> None:
    # A closed loop with few connections would send ~connections/0.2 s; the open
    # model sends all 100 on time and opens as many connections as it needs.
    result = run_load(_spec(server, "/slow", rate=100, duration_s=1.0))
    assert result.sent == 100
    assert set(result.status) == {200}
    assert max(result.lag_ms) < 100
    assert min(result.latency_ms) >= SLOW_S * 1000 * 0.95
    assert result.connections_opened >= 15


def test_closed_loop_measures_a_maximum(server: TrivialServer) -> None:
    result = run_load(_spec(server, rate=0, duration_s=0.5, closed_connections=4))
    assert result.closed
    assert result.sent > 50
    assert set(result.status) == {200}
    assert summarize(result, "health-max").achieved_rps > 100


def test_errors_are_counted_not_raised(server: TrivialServer) -> None:
    spec = _spec(server, rate=50, duration_s=0.2)
    spec.port = 1  # nothing listens there
    result = run_load(spec)
    assert result.sent == 10
    assert set(result.status) == {0}
    assert sum(result.errors.values()) == 10
    step = summarize(result, "deposit")
    assert step.errors == 10
    assert judge(step) is False


def test_generator_runs_as_its_own_process(server: TrivialServer, tmp_path: Path) -> None:
    spec_path, out_path = tmp_path / "spec.json", tmp_path / "out.json"
    spec = _spec(server, rate=100, duration_s=0.5)
    spec.templates = [
        RequestTemplate("POST", "/deposit", (("Content-Type", "application/json"),), b"{}")
    ]
    spec.unique_header = "Idempotency-Key"
    spec_path.write_text(json.dumps(spec.to_json()))
    done = subprocess.run(
        [sys.executable, "-m", "bench.loadgen", str(spec_path), str(out_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert lines[-1]["final"] is True
    result = LoadResult.from_json(json.loads(out_path.read_text()))
    assert result.sent == 50
    assert set(result.status) == {200}


def _synthetic(rate: float, latency: float, gateway: float) -> LoadResult:
    n = int(rate * 2)
    return LoadResult(
        label=f"synthetic {rate}",
        rate=rate,
        duration_s=n / rate,
        closed=False,
        scheduled=[i / rate for i in range(n)],
        lag_ms=[0.1] * n,
        latency_ms=[latency + (i % 10) for i in range(n)],
        status=[201] * n,
        gateway_ms=[gateway] * n,
        app_ms=[latency - gateway] * n,
        total_ms=[latency] * n,
        finished=[i / rate + latency / 1000 for i in range(n)],
    )


def test_report_json_table_and_plot_from_synthetic_steps(tmp_path: Path) -> None:
    steps: list[Step] = []
    for rate, latency in ((100, 55.0), (500, 60.0), (1000, 140.0)):
        step = summarize(_synthetic(rate, latency, 50.0), "deposit")
        step.passed = judge(step)
        step.cpu_s_per_1000 = 2.0
        step.service_cpu_s = 0.2
        step.rss_peak_mb = 200.0
        steps.append(step)
        health = summarize(_synthetic(rate, 1.0, math.nan), "health")
        steps.append(health)
    assert [s.passed for s in steps if s.kind == "deposit"] == [True, True, False]
    assert steps[0].overhead.p50 == pytest.approx(9.5)
    run = {
        "meta": {
            "timestamp": "20260101-000000",
            "server": "granian",
            "workers": 2,
            "gateway_latency_ms": 50,
            "callback_delay_ms": 200,
            "duration_s": 1,
            "kafka": False,
            "users": 10,
            "database": "synthetic",
            "cpus": 2,
        },
        "ratio_lines": ["a ratio"],
        "sweep": {"max_passing_rps": 500, "first_failing_rps": 1000},
        "steps": [s.to_json() for s in steps],
        "nan": math.nan,
    }
    text = markdown(run, steps)
    assert "| deposit | 500 |" in text
    assert "500 deposits/s" in text
    assert step_table(steps).count("\n") == len(steps) + 1
    assert "service CPU s/1k" in cost_table(steps)
    write_json(tmp_path / "run.json", run)
    assert json.loads((tmp_path / "run.json").read_text())["nan"] is None
    png = tmp_path / "run.png"
    if plot(png, steps, "synthetic"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_parsers() -> None:
    assert parse_server_timing(b"gateway;dur=50.1, app;dur=2.3, total;dur=52.4") == (
        50.1,
        2.3,
        52.4,
    )
    gateway, app, total = parse_server_timing(b"db;dur=3")
    assert math.isnan(gateway)
    assert math.isnan(app)
    assert math.isnan(total)
    output = (
        "number of transactions actually processed: 26000\n"
        "latency average = 1.534 ms\n"
        "tps = 5213.118470 (without initial connection time)\n"
    )
    result = parse_pgbench(output, binary="pgbench", clients=8, seconds=5, scale=1)
    assert result.tps == pytest.approx(5213.118470)
    assert result.latency_avg_ms == pytest.approx(1.534)
    assert result.transactions == 26000


def test_profile_summary_keeps_workers_and_names_packages(tmp_path: Path) -> None:
    raw = tmp_path / "profile.collapsed"
    worker = 'process 1:"granian";process 2:"granian worker";'
    raw.write_text(
        'process 1:"granian";Popen.poll (multiprocessing/popen_fork.py:24) 40\n'
        + worker
        + "MPServer._spawn_asgi_lifespan_worker (granian/server/mp.py:249) 30\n"
        + worker
        + "MPServer._spawn_asgi_lifespan_worker (granian/server/mp.py:249);"
        "Deposit.execute (application/deposit.py:40);"
        "AsyncCursor.execute (psycopg/cursor_async.py:97) 50\n"
        + worker
        + "MPServer._spawn_asgi_lifespan_worker (granian/server/mp.py:249);"
        "emit (entrypoints/logging_setup.py:300);dumps (json/__init__.py:231) 20\n"
        + worker.rstrip(";")
        + " 5\n"
    )
    summary = summarize_profile(raw)
    assert summary.samples == 70
    assert summary.supervisor_samples == 40
    assert summary.native_samples == 30 + 5
    packages = dict(summary.packages)
    assert packages == {"psycopg": 50, "payments:entrypoints": 20}
    inclusive = dict(summary.inclusive_top)
    assert inclusive["Deposit.execute (application/deposit.py)"] == 50


async def test_the_apply_rate_bench_applies_every_callback(empty_database_url: str) -> None:
    from bench.apply_rate import measure

    result = await measure(empty_database_url, 40, 15)  # batches of 15, 15, 10
    assert result["callbacks"] == 40
    assert result["per_s"] > 0
    with psycopg.connect(empty_database_url) as conn:
        statuses = conn.execute("SELECT status, count(*) FROM transactions GROUP BY 1").fetchall()
        balances = conn.execute(
            "SELECT sum(balance_minor) FROM ledger_accounts WHERE kind = 'available'"
        ).fetchone()
    assert statuses == [("completed", 40)]
    assert balances == (10 * 1000 + 10 * 1000 + 10 * 1000 + 10 * 10,)  # JPY has no minor unit
