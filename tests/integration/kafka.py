"""Kafka fixtures: a real broker for integration tests.

Where the broker comes from, first match wins:
1. ``PAYMENTS_TEST_KAFKA_BOOTSTRAP`` (host:port, e.g. from ``scripts/kafka-broker start``);
   a configured broker that does not answer is a failure, never a skip;
2. a KRaft ``confluentinc/cp-kafka`` container (``PAYMENTS_TEST_KAFKA_IMAGE``), when a
   Docker engine answers;
3. none: tests skip (or fail when PAYMENTS_REQUIRE_SERVICES=1).

Tests share the broker; ``kafka_topic_prefix`` gives each test its own topic and group
names so no test sees another's messages.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from tests.integration.services import docker_available, skip_or_fail

KAFKA_BOOTSTRAP_ENV = "PAYMENTS_TEST_KAFKA_BOOTSTRAP"
KAFKA_IMAGE_ENV = "PAYMENTS_TEST_KAFKA_IMAGE"
KAFKA_IMAGE = "confluentinc/cp-kafka:7.9.0"
ANSWER_TIMEOUT_S = 10.0


async def _describe_cluster(bootstrap: str, within_s: float) -> None:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap,
        request_timeout_ms=int(within_s * 1000),
        client_id="payments-tests-probe",
    )
    try:
        async with asyncio.timeout(within_s):
            await admin.start()
            cluster = await admin.describe_cluster()
        if not cluster.get("brokers"):
            raise RuntimeError(f"metadata lists no brokers: {cluster!r}")
    finally:
        await admin.close()


def broker_error(bootstrap: str, timeout: float = ANSWER_TIMEOUT_S) -> str | None:
    """None when the broker at ``bootstrap`` answers a metadata request, else why not."""
    try:
        # Sync fixture, so no event loop is running yet: asyncio.run is safe here.
        asyncio.run(_describe_cluster(bootstrap, timeout))
    except TimeoutError:
        return f"no answer within {timeout:g}s"
    except Exception as exc:
        text, name = str(exc), type(exc).__name__
        return text if text.startswith(name) else f"{name}: {text}"
    return None


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """``host:port`` of a Kafka broker that answers (auto-creates topics, one replica)."""
    bootstrap = os.environ.get(KAFKA_BOOTSTRAP_ENV)
    if bootstrap:
        error = broker_error(bootstrap)
        if error is not None:
            pytest.fail(
                f"{KAFKA_BOOTSTRAP_ENV}={bootstrap} is set but that Kafka broker does not "
                f"answer ({error}); is it running? (scripts/kafka-broker status)",
                pytrace=False,
            )
        yield bootstrap
        return
    reasons = [f"{KAFKA_BOOTSTRAP_ENV} unset"]
    if docker_available():
        from testcontainers.community.kafka import KafkaContainer

        image = os.environ.get(KAFKA_IMAGE_ENV, KAFKA_IMAGE)
        container = KafkaContainer(image).with_kraft()
        try:
            container.start(timeout=120)
        except Exception as exc:
            reasons.append(f"testcontainers could not start {image}: {exc}")
        else:
            try:
                bootstrap = container.get_bootstrap_server()
                error = broker_error(bootstrap, timeout=30.0)
                if error is not None:
                    pytest.fail(f"Kafka container {image} does not answer: {error}", pytrace=False)
                yield bootstrap
            finally:
                container.stop()
            return
    else:
        reasons.append("no Docker engine answers")
    skip_or_fail(
        "no Kafka broker: set PAYMENTS_TEST_KAFKA_BOOTSTRAP (scripts/kafka-broker start) "
        f"or run Docker ({'; '.join(reasons)})"
    )


@pytest.fixture
def kafka_topic_prefix() -> str:
    """A prefix unique to this test for topic and consumer-group names, e.g. ``t1a2b3c4d.``."""
    return f"t{uuid.uuid4().hex[:8]}."
