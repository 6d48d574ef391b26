"""Outgoing webhooks: platforms register endpoints and hear about every change.

One use case per module: create_endpoint, list_endpoints (list and get),
update_endpoint, delete_endpoint, roll_secret, list_deliveries, redeliver
(operators) and deliver_due (the worker that sends the queued deliveries).
The deliveries themselves are fanned out from the transactional outbox by the
relay.
"""
