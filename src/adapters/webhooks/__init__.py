"""Outgoing webhooks over HTTP: the signed sender and the target guard."""
