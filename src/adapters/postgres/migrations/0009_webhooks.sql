-- 0009_webhooks: outgoing webhook endpoints and their delivery queue.

-- A platform's endpoint. The signing secret is AES-GCM encrypted, bound to
-- the row (adapters/postgres/webhooks_endpoints.py secret_aad). failing_since:
-- the first failed attempt of the current failure streak (NULL once one
-- succeeds); an endpoint failing for the whole retry window is disabled.
-- lease_until: the worker process serving the endpoint now holds it until then.
CREATE TABLE webhook_endpoints (
    id            uuid        PRIMARY KEY,
    url           text        NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
    events        text[]      NOT NULL CHECK (cardinality(events) >= 1),
    description   text        NOT NULL DEFAULT '' CHECK (length(description) <= 500),
    status        text        NOT NULL DEFAULT 'enabled' CHECK (status IN ('enabled', 'disabled')),
    secret_enc    text        NOT NULL,
    failing_since timestamptz,
    lease_until   timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- One row per delivery attempt of one outbox event to one endpoint: a
-- 'pending' row is queued (due at due_at); an attempt fills in its outcome
-- and, when it failed inside the retry window, queues the next attempt as a
-- new row. first_try_at: where this event's retry window at this endpoint began.
CREATE TABLE webhook_deliveries (
    id            bigserial   PRIMARY KEY,
    endpoint_id   uuid        NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id      uuid        NOT NULL,
    event_type    text        NOT NULL,
    attempt       integer     NOT NULL DEFAULT 1 CHECK (attempt >= 1),
    state         text        NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'delivered', 'failed', 'abandoned')),
    due_at        timestamptz NOT NULL DEFAULT now(),
    first_try_at  timestamptz NOT NULL DEFAULT now(),
    attempted_at  timestamptz,
    status_code   integer,
    latency_ms    integer,
    error         text,
    next_retry_at timestamptz,
    delivered_at  timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (endpoint_id, due_at, id)
    WHERE state = 'pending';
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, id DESC);
