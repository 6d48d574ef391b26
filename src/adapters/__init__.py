"""Adapters: the ports implemented over PostgreSQL, HTTP gateways, Kafka and memory."""
