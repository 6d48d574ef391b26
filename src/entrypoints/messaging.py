"""Wiring of callbacks and events: verifiers, the relay's publisher, the consumer."""

from __future__ import annotations

from collections.abc import AsyncIterator

from adapters.gateways.callbacks import CallbackVerifierRegistry
from adapters.gateways.families import FAMILIES
from adapters.kafka.consumer import CallbackConsumer
from adapters.kafka.publisher import KafkaPublisher
from application.apply_callback import ApplyCallbacks
from application.ports import MessagePublisher
from entrypoints.gateways import gateway_setup
from entrypoints.inprocess import InProcessPublisher
from entrypoints.settings import Settings


def build_verifiers(settings: Settings) -> CallbackVerifierRegistry:
    """Each gateway's callback verifier, of the gateway's wire family."""
    return CallbackVerifierRegistry(
        {
            gateway.id: FAMILIES.get(gateway.format).verifier(gateway_setup(settings, gateway))
            for gateway in settings.gateways
        }
    )


async def publisher_resource(
    settings: Settings, apply_callbacks: ApplyCallbacks
) -> AsyncIterator[MessagePublisher]:
    """Kafka when configured; otherwise the same relay dispatches in-process."""
    if not settings.kafka_bootstrap_servers:
        yield InProcessPublisher(apply_callbacks)
        return
    publisher = KafkaPublisher(
        settings.kafka_bootstrap_servers, settings.kafka_topic_prefix, settings.kafka_partitions
    )
    try:
        yield publisher
    finally:
        await publisher.aclose()


def build_consumer(settings: Settings, apply_callbacks: ApplyCallbacks) -> CallbackConsumer | None:
    if not settings.kafka_bootstrap_servers:
        return None
    return CallbackConsumer(
        settings.kafka_bootstrap_servers,
        apply_callbacks.execute,
        group_id=settings.kafka_group_id,
        topic_prefix=settings.kafka_topic_prefix,
    )
