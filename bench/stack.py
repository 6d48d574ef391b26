"""Everything the benchmark runs against, started and stopped by the harness.

PostgreSQL (a given URL or the embedded server in a temporary directory),
migrations, demo data and extra users, optionally a Kafka broker, the sandbox
PSPs in processes of their own (``payments sandbox --workers N``, one process
tree) with a fixed latency, and the service under a
production server (granian or uvicorn, N workers) built by
``entrypoints.asgi:create``. All on loopback; every process started here is
stopped here, by its own id.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from adapters.postgres.migrator import load_demo_data, migrate
from bench import database
from bench.control import free_port, http, wait_http, wait_workers
from bench.credentials import GATEWAYS, Secrets
from bench.database import Database
from bench.kafka import start_kafka, stop_kafka
from bench.processes import ProcessTree, spawn, stop_process

Server = Literal["granian", "uvicorn"]
Say = Callable[[str], None]


@dataclass
class Stack:
    """Settings of one benchmark environment; ``start()`` brings it up."""

    server: Server = "granian"
    workers: int = 2
    sandbox_workers: int = 2
    gateway_latency_ms: int = 50
    callback_delay_ms: int = 200
    kafka: bool = False
    database_url: str | None = None
    users: int = 1000
    log_level: str = "INFO"
    pool_max: int | None = None
    service_env: dict[str, str] = field(default_factory=dict)
    # Platforms' webhook endpoints registered before the load (the last
    # ``webhook_hanging`` of them never answer), served by their own process.
    webhook_endpoints: int = 0
    webhook_hanging: int = 0
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="payments-bench-")))
    secrets: Secrets = field(default_factory=Secrets)

    # filled by start()
    url: str = ""
    server_url: str = ""  # the PostgreSQL server, for pgbench's own database
    pg_pid: int | None = None
    service_port: int = 0
    sandbox_port: int = 0
    kafka_bootstrap: str | None = None
    service: subprocess.Popen[bytes] | None = None
    sandbox: subprocess.Popen[bytes] | None = None
    service_tree: ProcessTree | None = None
    receivers: subprocess.Popen[bytes] | None = None
    sandbox_tree: ProcessTree | None = None
    pg_tree: ProcessTree | None = None
    database_note: str = ""
    _database: Database | None = None
    _kafka_env: dict[str, str] | None = None  # set when we started the broker

    # -- lifecycle --------------------------------------------------------
    def start(self, say: Say = print) -> None:
        self._start_postgres(say)
        say(f"migrating and loading demo data + {self.users} users")
        asyncio.run(migrate(self.url))
        asyncio.run(load_demo_data(self.url))
        database.add_users(self.url, self.users)
        if self.kafka:
            self.kafka_bootstrap, self._kafka_env = start_kafka(self.workdir, say)
        self.sandbox_port = free_port()
        self.service_port = free_port()
        self._start_sandbox(say)
        self._start_service(say)
        self.set_behaviour()
        if self.webhook_endpoints:
            self._start_receivers(say)

    def stop(self) -> None:
        if self.receivers is not None and self.receivers.stdin is not None:
            self.receivers.stdin.close()  # they serve until stdin closes
            self.receivers.wait(10)
        for proc in (self.service, self.sandbox):
            if proc is not None:
                stop_process(proc)
        if self._kafka_env is not None:
            stop_kafka(self._kafka_env)
        if self._database is not None:
            database.close_database(self._database)
        shutil.rmtree(self.workdir, ignore_errors=True)

    @contextlib.contextmanager
    def running(self, say: Say = print) -> Iterator[Stack]:
        try:
            self.start(say)
            yield self
        finally:
            self.stop()

    def _start_postgres(self, say: Say) -> None:
        db = self._database = database.open_database(self.database_url, self.workdir, say)
        self.url, self.server_url, self.pg_pid = db.url, db.server_url, db.pg_pid
        self.database_note = db.note
        if self.pg_pid is not None:
            self.pg_tree = ProcessTree(self.pg_pid)

    def user_ids(self) -> list[tuple[int, str]]:
        """(user id, country) of every bench user, in a mixed order."""
        return database.user_ids(self.users)

    # -- sandbox and service ------------------------------------------------
    def base_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PAYMENTS_")}
        env.update(self.secrets.env())
        env.update(
            {
                "PAYMENTS_DATABASE_URL": self.url,
                "PAYMENTS_HOST": "127.0.0.1",
                "PAYMENTS_PORT": str(self.service_port),
                "PAYMENTS_SANDBOX_URL": f"http://127.0.0.1:{self.sandbox_port}/sandbox",
                "PAYMENTS_SANDBOX_CALLBACK_URL": f"http://127.0.0.1:{self.service_port}",
                "PAYMENTS_SERVE_SANDBOX": "0",
                "PAYMENTS_LOG_LEVEL": self.log_level,
                # One API key offers every deposit, above the default per-key
                # quota: the benchmark measures capacity, not the quota.
                "PAYMENTS_RATE_LIMIT_PER_S": "0",
                "PYTHONUNBUFFERED": "1",
            }
        )
        if self.webhook_endpoints:
            env["PAYMENTS_WEBHOOK_ALLOW_PRIVATE"] = "1"  # the receivers listen on loopback
        if self.pool_max is not None:
            env["PAYMENTS_DB_POOL_MAX"] = str(self.pool_max)
        env.update(self.service_env)
        if self.kafka_bootstrap:
            env["PAYMENTS_KAFKA_BOOTSTRAP_SERVERS"] = self.kafka_bootstrap
            env["PAYMENTS_KAFKA_TOPIC_PREFIX"] = f"bench{os.getpid()}."
        return env

    def _start_sandbox(self, say: Say) -> None:
        say(f"starting the sandbox PSPs on :{self.sandbox_port}")
        log = self.workdir / "sandbox.log"
        env = {**self.base_env(), "PAYMENTS_LOG_LEVEL": "WARNING"}
        port, workers = str(self.sandbox_port), str(self.sandbox_workers)
        cmd = [sys.executable, "-m", "entrypoints.cli", "sandbox", "--port", port]
        self.sandbox = spawn([*cmd, "--workers", workers], env, log)
        health = f"http://127.0.0.1:{self.sandbox_port}/sandbox/paypal/health"
        wait_http(health, self.sandbox, 30, log)
        # Its workers are children of the spawned process: one tree holds the sandbox's CPU.
        self.sandbox_tree = ProcessTree(self.sandbox.pid)
        wait_workers(health, self.sandbox_workers, 30, log)

    def service_command(self) -> list[str]:
        return service_command(self.server, self.workers, self.service_port)

    def _start_service(self, say: Say) -> None:
        say(
            f"starting the service: {self.server}, {self.workers} worker(s) on :{self.service_port}"
        )
        log = self.workdir / "service.log"
        self.service = spawn(self.service_command(), self.base_env(), log)
        wait_http(f"http://127.0.0.1:{self.service_port}/ready", self.service, 60, log)
        self.service_tree = ProcessTree(self.service.pid)
        # Every worker up (the ready probe may have reached only one).
        deadline = time.monotonic() + 30
        supervisor = 1 if self.server == "granian" or self.workers > 1 else 0
        while len(self.service_tree.processes()) < self.workers + supervisor:
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)

    def _start_receivers(self, say: Say) -> None:
        healthy = self.webhook_endpoints - self.webhook_hanging
        say(f"webhook endpoints: {healthy} answering, {self.webhook_hanging} hanging")
        cmd = [sys.executable, "-m", "tests.support.webhook_receiver", "--healthy", str(healthy)]
        self.receivers = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
            [*cmd, "--hanging", str(self.webhook_hanging)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert self.receivers.stdout is not None
        urls = json.loads(self.receivers.stdout.readline())
        for url in [*urls["healthy"], *urls["hanging"]]:
            status, answer = http(
                "POST",
                f"{self.service_url}/webhook-endpoints",
                {"url": url, "events": ["*"]},
                token=self.secrets.admin_key,
            )
            if status != 201:
                raise RuntimeError(f"webhook endpoint {url}: {status} {answer}")

    @property
    def service_url(self) -> str:
        return f"http://127.0.0.1:{self.service_port}"

    @property
    def service_log(self) -> Path:
        return self.workdir / "service.log"

    def set_behaviour(self, **changes: Any) -> None:
        """The sandbox gateways answer after the fixed latency and call back later."""
        body = {
            "mode": "ok",
            "latency_ms": self.gateway_latency_ms,
            "callback_delay_ms": self.callback_delay_ms,
            "final_status": "completed",
            **changes,
        }
        for gid in GATEWAYS:
            status, answer = http(
                "PUT",
                f"http://127.0.0.1:{self.sandbox_port}/sandbox/{gid}/behaviour",
                body,
                token=self.secrets.admin_key,
            )
            if status != 200:
                raise RuntimeError(f"sandbox behaviour for {gid}: {status} {answer}")


def service_command(server: Server, workers: int, port: int) -> list[str]:
    """The production server running ``entrypoints.asgi:create`` on loopback."""
    host, port_text, workers_text = "127.0.0.1", str(port), str(workers)
    target = "entrypoints.asgi:create"
    if server == "granian":
        return [
            sys.executable,
            "-m",
            "granian",
            "--interface",
            "asgi",
            "--factory",
            "--workers",
            workers_text,
            "--host",
            host,
            "--port",
            port_text,
            "--log-level",
            "warning",
            "--no-access-log",
            target,
        ]
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "--workers",
        workers_text,
        "--host",
        host,
        "--port",
        port_text,
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--log-level",
        "warning",
        target,
    ]
