"""The bench's Kafka broker: a given one (PAYMENTS_BENCH_KAFKA_BOOTSTRAP) or our own."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

from bench.control import free_port
from bench.paths import ROOT

BROKER = ROOT / "scripts" / "kafka-broker"


def start_kafka(workdir: Path, say: Callable[[str], None]) -> tuple[str, dict[str, str] | None]:
    """The bootstrap address, and the broker's environment when we started it (else None)."""
    given = os.environ.get("PAYMENTS_BENCH_KAFKA_BOOTSTRAP")
    if given:
        return given, None
    say("starting a Kafka broker (scripts/kafka-broker)")
    port = free_port()
    env = {
        "KAFKA_PORT": str(port),
        "KAFKA_CONTROLLER_PORT": str(free_port()),
        "KAFKA_DATA_DIR": str(workdir / "kafka"),
    }
    done = subprocess.run(  # noqa: S603
        [str(BROKER), "start"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    bootstrap = None
    for line in done.stdout.splitlines():
        if line.startswith("KAFKA_BOOTSTRAP="):
            bootstrap = line.split("=", 1)[1].strip()
    if done.returncode != 0 or not bootstrap:
        stop_kafka(env)
        raise RuntimeError(f"kafka-broker start failed:\n{done.stderr[-2000:]}")
    return bootstrap, env


def stop_kafka(env: dict[str, str]) -> None:
    subprocess.run(  # noqa: S603
        [str(BROKER), "stop"],
        env={**os.environ, **env},
        capture_output=True,
        check=False,
    )
