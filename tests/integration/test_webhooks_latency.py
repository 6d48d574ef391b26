"""Webhooks stay off the payment path: deposit latency with and without ten
endpoints, one of them hanging (CONTRACT.md "Webhook endpoints").

Every party runs in its own process, as in production: the API (which also
serves the sandbox PSPs), the workers (`payments worker`: relay, callbacks,
webhook deliveries) and the platforms' receivers; this test only drives
deposits one after another and measures each. A second test runs API and
workers in one `payments serve` process (the embedded shape, deliveries in
its child process) and holds it to the same bounds. The numbers print with ``-s``.
"""

from __future__ import annotations

import json
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.support.api import ADMIN, CLIENT, production_env
from tests.support.server import free_port, wait_healthy

PAYMENTS = [sys.executable, "-m", "entrypoints.cli"]
DEPOSITS = 200
WEBHOOKS = {
    "PAYMENTS_SERVE_SANDBOX": "1",
    "PAYMENTS_RELAY_POLL_S": "0.2",
    "PAYMENTS_WEBHOOK_ALLOW_PRIVATE": "1",  # the receivers listen on 127.0.0.1
    "PAYMENTS_WEBHOOK_POLL_S": "0.05",
    "PAYMENTS_WEBHOOK_TIMEOUT_S": "2",
}


@contextmanager
def started(cmd: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=out, stdin=subprocess.PIPE)
    try:
        yield proc
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def service(database_url: str, tmp_path: Path, *, split: bool) -> Iterator[httpx.Client]:
    """The API (and workers: in a process of their own when ``split``)."""
    port = free_port()
    env = production_env(database_url, PAYMENTS_PORT=str(port), **WEBHOOKS)
    log = tmp_path / "service.log"
    api_env = {**env, "PAYMENTS_RUN_WORKERS": "0"} if split else env
    with started([*PAYMENTS, "serve"], api_env, log) as api:
        wait_healthy(f"http://127.0.0.1:{port}/health", api, log)
        with (
            started([*PAYMENTS, "worker"], env, log) if split else nullcontext(),
            httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=15) as client,
        ):
            yield client


@contextmanager
def receivers(tmp_path: Path, healthy: int, hanging: int) -> Iterator[dict[str, list[str]]]:
    cmd = [sys.executable, "-m", "tests.support.webhook_receiver"]
    args = ["--healthy", str(healthy), "--hanging", str(hanging)]
    proc = subprocess.Popen(
        [*cmd, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=Path.cwd()
    )
    try:
        assert proc.stdout is not None
        urls: dict[str, list[str]] = json.loads(proc.stdout.readline())
        yield urls
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=10)


def latencies(api: httpx.Client, count: int) -> list[float]:
    out = []
    for _ in range(count):
        started_at = time.perf_counter()
        r = api.post(
            "/deposit", json={"user_id": 1, "amount": "1.00", "currency": "USD"}, headers=CLIENT
        )
        out.append((time.perf_counter() - started_at) * 1000)
        assert r.status_code == 201, r.text
    return out


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def delivered_per_endpoint(database_url: str) -> dict[str, tuple[int, int]]:
    """Per endpoint URL: (delivered, attempts that got no answer)."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT e.url, count(*) FILTER (WHERE d.state = 'delivered'),"
            " count(*) FILTER (WHERE d.attempted_at IS NOT NULL AND d.status_code IS NULL)"
            " FROM webhook_endpoints e LEFT JOIN webhook_deliveries d ON d.endpoint_id = e.id"
            " GROUP BY e.url"
        ).fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


def measure(api: httpx.Client, database_url: str, tmp_path: Path) -> dict[str, Any]:
    latencies(api, 20)  # warm-up: connections, caches
    without = latencies(api, DEPOSITS)
    with receivers(tmp_path, healthy=9, hanging=1) as urls:
        for url in [*urls["hanging"], *urls["healthy"]]:
            r = api.post("/webhook-endpoints", json={"url": url, "events": ["*"]}, headers=ADMIN)
            assert r.status_code == 201, r.text
        with_hooks = latencies(api, DEPOSITS)
        # Every lifecycle event of those deposits reaches every healthy endpoint
        # (created + processing + completed); the hanging one delivers nothing.
        deadline = time.monotonic() + 120
        while True:
            counts = delivered_per_endpoint(database_url)
            if all(counts[u][0] >= 3 * DEPOSITS for u in urls["healthy"]):
                break
            assert time.monotonic() < deadline, counts
            time.sleep(0.5)
        assert counts[urls["hanging"][0]][0] == 0
        assert counts[urls["hanging"][0]][1] >= 1  # tried, timed out
    return {
        "without": (pct(without, 50), pct(without, 99)),
        "with": (pct(with_hooks, 50), pct(with_hooks, 99)),
    }


def report(name: str, numbers: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    with capsys.disabled():
        for label, (p50, p99) in numbers.items():
            print(f"\n{name}: deposits {label} 10 endpoints: p50 {p50:.1f} ms, p99 {p99:.1f} ms")


def assert_not_slowed(numbers: dict[str, Any]) -> None:
    (p50_without, p99_without), (p50_with, p99_with) = numbers["without"], numbers["with"]
    # The deposit path never waits for a delivery; what is left is the
    # deliveries' CPU and database time on the same (2-core) box. Loose
    # bounds: the benchmark measures the cost, this catches a payment path
    # that waits on webhooks (p50 of seconds with a hanging endpoint).
    assert p50_with < 1.5 * p50_without + 5
    assert p99_with < 2 * p99_without + 20


def test_ten_endpoints_one_hanging_do_not_slow_deposits(
    demo_database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with service(demo_database_url, tmp_path, split=True) as api:
        numbers = measure(api, demo_database_url, tmp_path)
    report("API + worker processes", numbers, capsys)
    assert_not_slowed(numbers)


def test_one_serve_process_delivers_from_its_child_without_slowing_deposits(
    demo_database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The embedded shape: one `payments serve`; its deliveries run in a child
    # process at a lower priority (entrypoints/webhook_process.py).
    with service(demo_database_url, tmp_path, split=False) as api:
        numbers = measure(api, demo_database_url, tmp_path)
    report("one serve process", numbers, capsys)
    assert_not_slowed(numbers)
