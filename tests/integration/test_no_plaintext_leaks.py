"""Log hygiene: after real traffic, no secret or payout destination in plaintext
in the service's logs, on the Kafka topics, or anywhere in the database."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg
from aiokafka import AIOKafkaConsumer

from tests.support.api import (
    ADMIN_KEY,
    CLIENT_KEY,
    ENCRYPTION_KEYS,
    GATEWAY_KEY_ENV,
    GATEWAY_KEYS,
    WEBHOOK_SECRETS,
)
from tests.support.server import free_port, wait_healthy

IBAN = "DE89370400440532013000"
PAN = "4111111111111111"  # a Luhn-valid test card number
HOLDER = "Ada Lovelace-Byron"


def dump_database(url: str) -> str:
    """Every row of every table, as text (what a pg_dump would show)."""
    with psycopg.connect(url) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            ).fetchall()
        ]
        parts = []
        for table in tables:
            rows = conn.execute(f'SELECT t::text FROM "{table}" t').fetchall()
            parts += [f"{table}: {r[0]}" for r in rows]
    return "\n".join(parts)


async def read_all(bootstrap: str, prefix: str) -> str:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    try:
        topics = [t for t in await consumer.topics() if t.startswith(prefix)]
        consumer.subscribe(topics)
        out: list[str] = []
        idle = 0
        while idle < 4:
            batches = await consumer.getmany(timeout_ms=500)
            idle = 0 if batches else idle + 1
            for records in batches.values():
                out += [f"{r.key!r} {r.value!r} {r.headers!r}" for r in records]
        return "\n".join(out)
    finally:
        await consumer.stop()


def test_no_plaintext_destination_or_secret_anywhere(
    tmp_path: Path, demo_database_url: str, kafka_bootstrap: str, kafka_topic_prefix: str
) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYMENTS_")}
    env.update(
        PAYMENTS_DATABASE_URL=demo_database_url,
        PAYMENTS_PORT=str(port),
        PAYMENTS_API_KEYS=CLIENT_KEY,
        PAYMENTS_ADMIN_API_KEYS=ADMIN_KEY,
        PAYMENTS_ENCRYPTION_KEYS=ENCRYPTION_KEYS,
        PAYMENTS_SERVE_SANDBOX="1",
        PAYMENTS_KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        PAYMENTS_KAFKA_TOPIC_PREFIX=kafka_topic_prefix,
        PAYMENTS_KAFKA_GROUP_ID=f"{kafka_topic_prefix}g",
        PAYMENTS_RELAY_POLL_S="0.2",
        PAYMENTS_LOG_LEVEL="DEBUG",
        **{f"PAYMENTS_WEBHOOK_SECRET_{g.upper()}": v for g, v in WEBHOOK_SECRETS.items()},
        **GATEWAY_KEY_ENV,
    )
    log_path = tmp_path / "service.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "entrypoints.cli", "serve"], env=env, stdout=log, stderr=log
        )
        base = f"http://127.0.0.1:{port}"
        client = {"Authorization": f"Bearer {CLIENT_KEY}"}
        admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
        try:
            wait_healthy(f"{base}/health", proc, log_path)
            with httpx.Client(base_url=base, timeout=10) as api:
                funding = api.post(
                    "/deposit",
                    json={"user_id": 1, "amount": "100.00", "currency": "USD"},
                    headers={**client, "Idempotency-Key": "leak-1"},
                ).json()
                while (
                    api.get(f"/transactions/{funding['transaction_id']}", headers=client).json()[
                        "status"
                    ]
                    != "completed"
                ):
                    time.sleep(0.1)
                destination = {"iban": IBAN, "card": PAN, "holder": HOLDER}
                for n in range(2):
                    r = api.post(
                        "/withdrawal",
                        json={
                            "user_id": 1,
                            "amount": "10.00",
                            "currency": "USD",
                            "destination": destination,
                        },
                        headers={**client, "Idempotency-Key": f"wd-{n}"},
                    )
                    assert r.status_code == 201, r.text
                # Refused and malformed requests carrying the destination too.
                api.post(
                    "/withdrawal",
                    json={
                        "user_id": 1,
                        "amount": "1000.00",
                        "currency": "USD",
                        "destination": destination,
                    },
                    headers=client,
                )
                api.post(
                    "/withdrawal", content=f'{{"destination": "{PAN}"'.encode(), headers=client
                )
                api.post(
                    "/deposit",
                    json={"user_id": 3, "amount": "5.00", "currency": "EUR"},
                    headers=client,
                )
                api.put("/gateways/stripe/status", json={"status": "down"}, headers=admin)
                api.get("/transactions", headers={"Authorization": "Bearer wrong-key-123456"})
                time.sleep(1.5)  # callbacks, relay and consumer settle
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)

    logs = log_path.read_text()
    topics = asyncio.run(read_all(kafka_bootstrap, kafka_topic_prefix))
    database = dump_database(demo_database_url)
    assert "transaction_id" in logs  # the logs are real, structured and non-empty
    assert topics
    assert "v1.it." in database  # ciphertexts are there

    secrets = [
        CLIENT_KEY,
        ADMIN_KEY,
        *WEBHOOK_SECRETS.values(),
        *GATEWAY_KEYS.values(),
        ENCRYPTION_KEYS,
    ]
    secrets.append(ENCRYPTION_KEYS.split(":", 1)[1])
    for name, text in (("logs", logs), ("kafka", topics), ("database", database)):
        for needle in (IBAN, PAN, HOLDER, *secrets):
            assert needle not in text, f"{needle[:6]}… found in plaintext in the {name}"
            assert needle.lower() not in text.lower(), f"{needle[:6]}… found in the {name}"
