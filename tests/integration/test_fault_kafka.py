"""Fault: the Kafka broker SIGKILLed under load, then restarted on its data.

Deposits keep working (events wait in the outbox), the backlog drains after
the restart, and every event reaches the topic: nothing is lost.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.integration.test_kafka_flow import TRANSACTIONS, read_topic
from tests.support.api import CLIENT, check_invariants, serve_api
from tests.support.load import Load
from tests.support.server import free_port

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "kafka-broker"


class BrokerStartFailed(RuntimeError):
    pass


class Broker:
    def __init__(self) -> None:
        self.port = free_port()
        controller = free_port()
        while controller == self.port:  # two probes can hand out the same port
            controller = free_port()
        self.data = tempfile.mkdtemp(prefix="fault-kafka-", dir="/tmp")
        self.env = {
            **os.environ,
            "KAFKA_PORT": str(self.port),
            "KAFKA_CONTROLLER_PORT": str(controller),
            "KAFKA_DATA_DIR": self.data,
        }
        self.bootstrap = f"127.0.0.1:{self.port}"

    def start(self, keep_data: bool = False) -> None:
        env = {**self.env, "KAFKA_KEEP_DATA": "1" if keep_data else "0"}
        done = subprocess.run(
            [str(SCRIPT), "start"], env=env, capture_output=True, text=True, timeout=150
        )
        if done.returncode != 0:
            # The script's stderr says why (port taken, JVM died, probe timed out, log tail).
            raise BrokerStartFailed(f"exit {done.returncode}\n{done.stderr[-4000:]}")

    def kill(self) -> None:
        pid = int(Path(self.data, "broker.pid").read_text())
        os.kill(pid, signal.SIGKILL)
        while Path(f"/proc/{pid}").exists():
            time.sleep(0.05)

    def stop(self) -> None:
        subprocess.run([str(SCRIPT), "stop"], env=self.env, capture_output=True, timeout=60)


@pytest.fixture
def broker(kafka_bootstrap: str) -> Iterator[Broker]:
    # kafka_bootstrap proves a broker can be had here (jars fetched, Java present).
    # A port picked by free_port() can be taken by another process before the JVM
    # binds it; try fresh ports a few times and say why if all of them fail.
    failures: list[str] = []
    for _ in range(3):
        b = Broker()
        try:
            b.start()
        except (BrokerStartFailed, subprocess.TimeoutExpired) as exc:
            failures.append(str(exc))
            b.stop()
            continue
        try:
            yield b
        finally:
            b.stop()
        return
    pytest.fail("the fault test's own broker did not start:\n" + "\n---\n".join(failures))


def backlog(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM outbox WHERE published_at IS NULL").fetchone()
    assert row is not None
    return int(row[0])


def open_transactions(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM transactions WHERE status <> 'completed'"
        ).fetchone()
    assert row is not None
    return int(row[0])


def deposit(client: httpx.Client, n: int) -> httpx.Response:
    return client.post(
        "/deposit", json={"user_id": 1, "amount": "1.00", "currency": "USD"}, headers=CLIENT
    )


def test_kafka_killed_under_load_loses_nothing(
    broker: Broker, demo_database_url: str, kafka_topic_prefix: str
) -> None:
    with serve_api(
        demo_database_url,
        PAYMENTS_KAFKA_BOOTSTRAP_SERVERS=broker.bootstrap,
        PAYMENTS_KAFKA_TOPIC_PREFIX=kafka_topic_prefix,
        PAYMENTS_KAFKA_GROUP_ID=f"{kafka_topic_prefix}g",
        PAYMENTS_KAFKA_PARTITIONS="3",
    ) as api:
        with Load(str(api.base_url), deposit, clients=2) as load:
            time.sleep(1.5)
            broker.kill()
            killed_at = time.monotonic()
            time.sleep(3.0)
            grown = backlog(demo_database_url)
            ready = api.get("/ready").json()["checks"]
            broker.start(keep_data=True)
            restarted_at = time.monotonic()
            time.sleep(1.0)
        during = [s for s in load.samples if killed_at <= s.started < restarted_at]
        deadline = time.monotonic() + 60
        while backlog(demo_database_url):
            assert time.monotonic() < deadline, "the outbox backlog never drained"
            time.sleep(0.2)
        drained_after = time.monotonic() - restarted_at
        # Callbacks also travelled through Kafka: every accepted deposit completes.
        deadline = time.monotonic() + 60
        while open_transactions(demo_database_url):
            assert time.monotonic() < deadline, "callbacks were lost on the way"
            time.sleep(0.2)
    statuses = {s.status for s in load.samples}
    assert statuses == {201}, statuses  # deposits never noticed the broker was gone
    assert during
    assert grown > 0
    assert ready["kafka"] == "unavailable"
    with psycopg.connect(demo_database_url) as conn:
        expected = {
            str(r[0])
            for r in conn.execute(
                "SELECT event_id FROM outbox WHERE topic = %s", (TRANSACTIONS,)
            ).fetchall()
        }
    seen = asyncio.run(
        read_topic(
            broker.bootstrap, kafka_topic_prefix + TRANSACTIONS, expect=len(expected), timeout_s=30
        )
    )
    assert {e["event_id"] for e in seen} >= expected  # every event, duplicates allowed
    check_invariants(demo_database_url, None, (broker.bootstrap, kafka_topic_prefix))
    print(
        f"\n[kafka-kill] deposits={len(load.samples)} during_outage={len(during)} "
        f"backlog_peak>={grown} drained_in_s={drained_after:.1f} events={len(expected)}"
    )
