"""Kafka adapters (aiokafka): the outbox publisher and the callback consumer."""
