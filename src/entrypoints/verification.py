"""The invariant checker's optional sources, built from the settings.

The container provides them; ``payments check`` decides which to read.
"""

from __future__ import annotations

from adapters.gateways.verification.ledger_check import SandboxLedgers
from adapters.kafka.verification.event_check import KafkaEventStream
from entrypoints.settings import Settings, SettingsError


def build_gateway_ledgers(settings: Settings) -> SandboxLedgers:
    """Every configured gateway's ``/ledger``, read with the first admin key."""
    if not settings.admin_api_keys:
        raise SettingsError(
            "reading gateway ledgers needs PAYMENTS_ADMIN_API_KEYS (or use --no-gateways)"
        )
    return SandboxLedgers([(g.id, g.url) for g in settings.gateways], settings.admin_api_keys[0])


def build_event_stream(settings: Settings) -> KafkaEventStream:
    """The transactions topic on the configured brokers."""
    if not settings.kafka_bootstrap_servers:
        raise SettingsError("reading the transactions topic needs PAYMENTS_KAFKA_BOOTSTRAP_SERVERS")
    return KafkaEventStream(settings.kafka_bootstrap_servers, settings.kafka_topic_prefix)
