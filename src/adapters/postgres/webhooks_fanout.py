"""Fan-out of outbox events to webhook deliveries, inside the relay's transaction.

The relay marks a batch of outbox rows published and, in the same database
transaction, queues one delivery per (event, enabled endpoint whose filter
matches). So each event is fanned out exactly once, never before its state
change committed, and never on the payment path (the relay runs after the
commit). Callback messages (``callback.verified``) are internal: not fanned out.
"""

from __future__ import annotations

FAN_OUT = """
INSERT INTO webhook_deliveries (endpoint_id, event_id, event_type)
SELECT e.id, o.event_id, o.event_type
FROM outbox o
JOIN webhook_endpoints e
  ON e.status = 'enabled' AND ('*' = ANY (e.events) OR o.event_type = ANY (e.events))
WHERE o.id = ANY (%(ids)s) AND o.event_type LIKE 'transaction.%%'
ORDER BY o.id
"""
