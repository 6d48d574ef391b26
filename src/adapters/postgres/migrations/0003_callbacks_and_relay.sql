-- 0003_callbacks_and_relay: the callback inbox and relay wake-ups.

-- Every callback we accepted, once per (gateway, event id). The raw body is
-- kept AES-GCM encrypted (it can hold payer details), bound to its row.
CREATE TABLE callback_inbox (
    id             bigserial   PRIMARY KEY,
    gateway_id     text        NOT NULL,
    event_id       text        NOT NULL CHECK (length(event_id) BETWEEN 1 AND 200),
    transaction_id text        NOT NULL,
    status         text        NOT NULL DEFAULT 'received'
        CHECK (status IN ('received', 'applied', 'duplicate', 'flagged')),
    detail         text,
    body_enc       text        NOT NULL,
    received_at    timestamptz NOT NULL DEFAULT now(),
    resolved_at    timestamptz,
    CONSTRAINT callback_inbox_once UNIQUE (gateway_id, event_id)
);
CREATE INDEX callback_inbox_transaction_idx ON callback_inbox (transaction_id);
CREATE INDEX callback_inbox_flagged_idx ON callback_inbox (received_at) WHERE status = 'flagged';

-- Wake the relay as soon as a batch of outbox rows commits (NOTIFY is
-- delivered at commit); a slow poll remains as the fallback.
CREATE FUNCTION outbox_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('payments_outbox', '');
    RETURN NULL;
END;
$$;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
