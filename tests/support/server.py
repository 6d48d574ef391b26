"""Run the real ASGI app under uvicorn on a free loopback port, in a thread."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn
from litestar import Litestar


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def running(app: Litestar, port: int) -> Iterator[str]:
    """Serve ``app`` until the block exits; yields its base URL."""
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
        # Sandbox gateways in "timeout" mode hold requests open: do not wait for them.
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


def wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path, within_s: float = 20) -> None:
    """Wait until a subprocess answers ``url`` with 200; fail with its log otherwise."""
    deadline = time.monotonic() + within_s
    while True:
        assert proc.poll() is None, log.read_text()[-3000:]
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, (
            f"no answer on {url} within {within_s:g} s\n" + log.read_text()[-3000:]
        )
        time.sleep(0.1)


@contextmanager
def cli_process(
    args: list[str], env: dict[str, str], log: Path, health: str
) -> Iterator[subprocess.Popen[bytes]]:
    """A ``payments`` command until the block exits (SIGTERM, then kill); waits for ``health``."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "entrypoints.cli", *args], env=env, stdout=out, stderr=out
        )
    try:
        wait_healthy(health, proc, log)
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
