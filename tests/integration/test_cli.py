"""The README's first command, for real: `payments serve` on the embedded default."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.support.server import free_port, wait_healthy

PAYMENTS = [sys.executable, "-m", "entrypoints.cli"]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYMENTS_")}
    env.update(extra)
    return env


@contextmanager
def serve(data_dir: Path, port: int) -> Iterator[str]:
    log = (data_dir.parent / f"serve-{port}.log").open("w")
    proc = subprocess.Popen(
        [*PAYMENTS, "serve"],
        env=clean_env(PAYMENTS_DATA_DIR=str(data_dir), PAYMENTS_PORT=str(port)),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        # The promise: /health within 20 s.
        wait_healthy(f"{base}/health", proc, data_dir.parent / f"serve-{port}.log", within_s=20)
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["serve"],
        ["migrate"],
        ["worker"],
        ["sandbox"],
        ["reconcile"],
        ["check"],
        ["keys"],
        ["keys", "rotate"],
        ["keys", "status"],
        ["routing"],
        ["routing", "replay"],
    ],
)
def test_every_command_answers_help(command: list[str]) -> None:
    out = subprocess.run(
        [*PAYMENTS, *command, "--help"], capture_output=True, text=True, check=True, timeout=60
    )
    assert "usage: payments" in out.stdout


def test_serve_on_the_embedded_default_takes_a_deposit_and_keeps_it(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    port = free_port()
    with serve(data_dir, port) as base:
        secrets = json.loads((data_dir / "secrets.json").read_text())
        assert oct((data_dir / "secrets.json").stat().st_mode & 0o777) == "0o600"
        client = {"Authorization": f"Bearer {secrets['api_keys'][0]}"}
        us = httpx.post(
            f"{base}/deposit",
            json={"user_id": 1, "amount": "100.00", "currency": "USD"},
            headers=client,
            timeout=10,
        )
        assert us.status_code == 201, us.text
        assert (us.json()["gateway"], us.json()["status"]) == ("paypal", "processing")
        gb = httpx.post(
            f"{base}/deposit",
            json={"user_id": 2, "amount": "100.00", "currency": "GBP"},
            headers=client,
            timeout=10,
        )
        assert gb.json()["gateway"] == "stripe"
        tx_id = us.json()["transaction_id"]
        # The sandbox's signed callback completes it and credits the wallet.
        deadline = time.monotonic() + 5
        while httpx.get(f"{base}/transactions/{tx_id}", headers=client).json()["status"] != (
            "completed"
        ):
            assert time.monotonic() < deadline, "the deposit never completed"
            time.sleep(0.1)
        balances = httpx.get(f"{base}/users/1/balances", headers=client).json()
        assert balances == [
            {"currency": "USD", "available": "100.00", "withdrawable": "100.00", "held": "0.00"}
        ]
    banner = (tmp_path / f"serve-{port}.log").read_text()
    assert secrets["api_keys"][0] in banner  # the generated keys are printed
    assert f"http://127.0.0.1:{port}" in banner

    port = free_port()
    with serve(data_dir, port) as base:
        again = json.loads((data_dir / "secrets.json").read_text())
        assert again == secrets  # generated once, reused
        got = httpx.get(f"{base}/transactions/{tx_id}", headers=client, timeout=10)
        assert got.status_code == 200
        assert got.json()["amount"] == "100.00"


def test_migrate_applies_then_finds_nothing_pending(tmp_path: Path) -> None:
    env = clean_env(PAYMENTS_DATA_DIR=str(tmp_path / "data"))
    first = subprocess.run(
        [*PAYMENTS, "migrate"], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    second = subprocess.run(
        [*PAYMENTS, "migrate"], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    assert "0001" in first.stdout
    assert "none pending" in second.stdout


def test_api_and_worker_as_separate_processes(tmp_path: Path, demo_database_url: str) -> None:
    """Production shape: API replicas without workers, one `payments worker` beside them."""
    from tests.support.api import (
        ADMIN_KEY,
        CLIENT_KEY,
        ENCRYPTION_KEYS,
        GATEWAY_KEY_ENV,
        WEBHOOK_SECRETS,
    )

    port = free_port()
    env = clean_env(
        PAYMENTS_DATABASE_URL=demo_database_url,
        PAYMENTS_PORT=str(port),
        PAYMENTS_API_KEYS=CLIENT_KEY,
        PAYMENTS_ADMIN_API_KEYS=ADMIN_KEY,
        PAYMENTS_ENCRYPTION_KEYS=ENCRYPTION_KEYS,
        PAYMENTS_SERVE_SANDBOX="1",
        PAYMENTS_RELAY_POLL_S="0.2",
        PAYMENTS_HEALTH_INTERVAL_S="0",
        **{f"PAYMENTS_WEBHOOK_SECRET_{g.upper()}": v for g, v in WEBHOOK_SECRETS.items()},
        **GATEWAY_KEY_ENV,
    )
    log = (tmp_path / "procs.log").open("w")
    api = subprocess.Popen(
        [*PAYMENTS, "serve"], env={**env, "PAYMENTS_RUN_WORKERS": "0"}, stdout=log, stderr=log
    )
    worker = None
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {CLIENT_KEY}"}
    try:
        wait_healthy(f"{base}/health", api, tmp_path / "procs.log")
        tx = httpx.post(
            f"{base}/deposit",
            json={"user_id": 1, "amount": "3.00", "currency": "USD"},
            headers=headers,
        ).json()
        time.sleep(1.0)  # the callback arrives and is stored; no worker applies it yet
        got = httpx.get(f"{base}/transactions/{tx['transaction_id']}", headers=headers).json()
        assert got["status"] == "processing"

        worker = subprocess.Popen([*PAYMENTS, "worker"], env=env, stdout=log, stderr=log)
        deadline = time.monotonic() + 15
        while (
            httpx.get(f"{base}/transactions/{tx['transaction_id']}", headers=headers).json()[
                "status"
            ]
            != "completed"
        ):
            assert time.monotonic() < deadline, (tmp_path / "procs.log").read_text()
            time.sleep(0.1)
    finally:
        for proc in (worker, api):
            if proc is not None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
        log.close()
    assert worker is not None
    assert worker.returncode == 0


def postmaster_pid(data_dir: Path) -> int | None:
    pid_file = data_dir / "pgdata" / "postmaster.pid"
    return int(pid_file.read_text().split()[0]) if pid_file.exists() else None


def running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_an_embedded_postgres_left_by_a_killed_serve_is_reused_then_stopped(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    port = free_port()
    log = (tmp_path / "killed.log").open("w")
    killed = subprocess.Popen(
        [*PAYMENTS, "serve"],
        env=clean_env(PAYMENTS_DATA_DIR=str(data_dir), PAYMENTS_PORT=str(port)),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    wait_healthy(f"http://127.0.0.1:{port}/health", killed, tmp_path / "killed.log", within_s=20)
    killed.kill()  # SIGKILL: no atexit, its handle on the server stays behind
    killed.wait()
    log.close()
    left = postmaster_pid(data_dir)
    assert left is not None
    assert running(left)  # the orphan the attack run found

    with serve(data_dir, free_port()):
        assert postmaster_pid(data_dir) == left  # reused, not a second server
    deadline = time.monotonic() + 10
    while running(left):  # the last live user stopped it on its way out
        assert time.monotonic() < deadline, "the reused embedded PostgreSQL was never stopped"
        time.sleep(0.1)
