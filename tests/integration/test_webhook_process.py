"""Webhook deliveries run in a child process of the API (PAYMENTS_WEBHOOK_DELIVERY=process):
it runs at a lower CPU priority, is restarted after a crash, stops with the
API, and leaves by itself when the API is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.integration.test_webhooks import FAST, register
from tests.support.api import deposit, production_env, serve_api
from tests.support.server import free_port, wait_healthy
from tests.support.webhook_receiver import receiver


def spawned_children(parent: int) -> list[int]:
    """Pids of ``parent``'s multiprocessing children (the delivery process)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and b"spawn_main" in cmdline:  # not its resource tracker
            found.append(int(entry.name))
    return found


def niceness(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


def wait_until(check: object, within_s: float, what: str) -> None:
    deadline = time.monotonic() + within_s
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie waiting for its parent's wait() is gone too.
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"


def test_deliveries_run_in_a_lower_priority_child_that_stops_with_the_api(
    demo_database_url: str,
) -> None:
    with serve_api(demo_database_url, **FAST) as api, receiver(default=200) as platform:
        wait_until(lambda: spawned_children(os.getpid()), 15, "no delivery process started")
        (child,) = spawned_children(os.getpid())
        wait_until(lambda: niceness(child) >= 10, 15, "the delivery process is not niced")
        register(api, platform.url, ["transaction.created"])
        assert deposit(api, 1, "5.00", "USD").status_code == 201
        wait_until(lambda: len(platform.requests) >= 1, 15, "the child delivered nothing")
    wait_until(lambda: gone(child), 15, "the delivery process outlived the API")


def test_a_crashed_delivery_process_is_restarted_and_delivers(demo_database_url: str) -> None:
    with serve_api(demo_database_url, **FAST) as api, receiver(default=200) as platform:
        wait_until(lambda: spawned_children(os.getpid()), 15, "no delivery process started")
        (first,) = spawned_children(os.getpid())
        os.kill(first, signal.SIGKILL)
        wait_until(
            lambda: [p for p in spawned_children(os.getpid()) if p != first],
            15,
            "the delivery process was not restarted",
        )
        register(api, platform.url, ["transaction.created"])
        assert deposit(api, 1, "5.00", "USD").status_code == 201
        wait_until(lambda: len(platform.requests) >= 1, 15, "the new child delivered nothing")


def test_the_delivery_process_leaves_when_the_api_is_killed(
    demo_database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    env = production_env(
        demo_database_url, PAYMENTS_PORT=str(port), PAYMENTS_SERVE_SANDBOX="1", **FAST
    )
    log = tmp_path / "serve.log"
    with log.open("ab") as out:
        api = subprocess.Popen(
            [sys.executable, "-m", "entrypoints.cli", "serve"], env=env, stdout=out, stderr=out
        )
    try:
        wait_healthy(f"http://127.0.0.1:{port}/health", api, log)
        wait_until(lambda: spawned_children(api.pid), 15, "no delivery process started")
        (child,) = spawned_children(api.pid)
        api.kill()  # no shutdown: the child must notice on its own
        api.wait()
        wait_until(lambda: gone(child), 10, "the delivery process outlived a killed API")
    finally:
        if api.poll() is None:
            api.kill()
            api.wait()


def test_webhook_backlog_and_endpoints_show_on_metrics(demo_database_url: str) -> None:
    with serve_api(demo_database_url, **FAST) as api, receiver(hang=True) as hanging:
        register(api, hanging.url)
        assert deposit(api, 1, "5.00", "USD").status_code == 201

        def shown() -> bool:
            text = api.get("/metrics").text
            return 'payments_webhook_endpoints{status="enabled"} 1.0' in text and any(
                line.startswith(("payments_webhook_due ", "payments_webhook_retrying "))
                and not line.endswith(" 0.0")
                for line in text.splitlines()
            )

        wait_until(shown, 20, "webhook gauges not on /metrics")
