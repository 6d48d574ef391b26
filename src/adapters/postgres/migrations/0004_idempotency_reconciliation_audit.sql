-- 0004: idempotency keys, reconciliation findings, the audit trail.

-- Client retries: one row per (API key, Idempotency-Key). The request's
-- fingerprint tells a replay (same body) from a misuse (other body); the
-- stored response is what every replay gets back.
CREATE TABLE idempotency_keys (
    scope           text        NOT NULL,  -- SHA-256 of the API key, never the key
    key             text        NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    fingerprint     text        NOT NULL,
    state           text        NOT NULL DEFAULT 'in_flight'
        CHECK (state IN ('in_flight', 'done')),
    response_status integer,
    response_type   text,
    response_body   bytea,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_expiry_idx ON idempotency_keys (expires_at);

-- What the reconciler (and the callback worker) found that needs a human.
CREATE TABLE reconciliation_issues (
    id             bigserial   PRIMARY KEY,
    transaction_id text        NOT NULL,
    gateway_id     text,
    kind           text        NOT NULL,
    detail         text        NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    resolved_at    timestamptz,
    CONSTRAINT reconciliation_issues_once UNIQUE (transaction_id, gateway_id, kind)
);
CREATE INDEX reconciliation_issues_open_idx ON reconciliation_issues (created_at)
    WHERE resolved_at IS NULL;

-- Attempts whose outcome the reconciler has already checked with the gateway.
ALTER TABLE transaction_attempts ADD COLUMN reconciled_at timestamptz;

-- Who did what, when: state changes, operator actions, key rotations.
CREATE TABLE audit_log (
    id           bigserial   PRIMARY KEY,
    occurred_at  timestamptz NOT NULL DEFAULT now(),
    actor        text        NOT NULL,
    action       text        NOT NULL,
    subject_type text        NOT NULL,
    subject_id   text        NOT NULL,
    details      jsonb       NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_subject_idx ON audit_log (subject_type, subject_id, id);

CREATE FUNCTION audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only' USING ERRCODE = 'restrict_violation';
END;
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
