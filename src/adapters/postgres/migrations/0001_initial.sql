-- 0001_initial: routing configuration, users, transactions, attempts, outbox.
-- Money is always BIGINT minor units (cents, yen, fils), never a float.
-- Run by adapters.postgres.migrator inside one transaction.

CREATE TABLE countries (
    code     char(2) PRIMARY KEY CHECK (code ~ '^[A-Z]{2}$'),
    name     text    NOT NULL,
    currency char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$')
);

CREATE TABLE gateways (
    id           text        PRIMARY KEY CHECK (id ~ '^[a-z0-9_-]{1,32}$'),
    name         text        NOT NULL,
    format       text        NOT NULL CHECK (format IN ('json', 'soap')),
    -- Operator switch; the health checker's view lives elsewhere.
    admin_status text        NOT NULL DEFAULT 'up' CHECK (admin_status IN ('up', 'down')),
    -- Only operations the domain knows, so the adapter can always map them.
    operations   text[]      NOT NULL
        CHECK (operations <@ ARRAY['deposit', 'withdrawal']::text[]),
    currencies   text[]      NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE gateway_countries (
    country_code char(2) NOT NULL REFERENCES countries (code),
    gateway_id   text    NOT NULL REFERENCES gateways (id),
    priority     integer NOT NULL CHECK (priority > 0),
    PRIMARY KEY (country_code, gateway_id),
    -- Deferred so an operator can swap two priorities in one transaction.
    CONSTRAINT gateway_countries_priority_key
        UNIQUE (country_code, priority) DEFERRABLE INITIALLY DEFERRED
);

CREATE INDEX gateway_countries_gateway_idx ON gateway_countries (gateway_id);

CREATE TABLE users (
    id           bigint      PRIMARY KEY CHECK (id > 0),
    country_code char(2)     NOT NULL REFERENCES countries (code),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE transactions (
    id           uuid        PRIMARY KEY,
    type         text        NOT NULL CHECK (type IN ('deposit', 'withdrawal')),
    status       text        NOT NULL
        CHECK (status IN ('pending', 'processing', 'completed', 'failed')),
    user_id      bigint      NOT NULL REFERENCES users (id),
    amount_minor bigint      NOT NULL CHECK (amount_minor > 0),
    currency     char(3)     NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    gateway_id   text        REFERENCES gateways (id),
    reference_id text,
    redirect_url text,
    message      text,
    -- Bumped on every state change; the optimistic lock and event ordering use it.
    version      integer     NOT NULL CHECK (version > 0),
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);

-- Listing is newest first with a (created_at, id) keyset: globally, per user
-- and per status.
CREATE INDEX transactions_created_idx
    ON transactions (created_at DESC, id DESC);
CREATE INDEX transactions_user_created_idx
    ON transactions (user_id, created_at DESC, id DESC);
CREATE INDEX transactions_status_created_idx
    ON transactions (status, created_at DESC, id DESC);
-- The reconciler looks for transactions stuck before a terminal state.
CREATE INDEX transactions_unsettled_idx
    ON transactions (updated_at)
    WHERE status IN ('pending', 'processing');

CREATE TABLE transaction_attempts (
    transaction_id        uuid        NOT NULL REFERENCES transactions (id) ON DELETE CASCADE,
    attempt_no            integer     NOT NULL CHECK (attempt_no > 0),
    gateway_id            text        NOT NULL REFERENCES gateways (id),
    -- "{transaction_id}:{attempt_no}", what the gateway dedupes on.
    idempotency_reference text        NOT NULL UNIQUE,
    outcome               text        NOT NULL CHECK (outcome IN (
        'in_flight', 'accepted', 'not_sent', 'transient', 'declined', 'ambiguous')),
    error_code            text,
    latency_ms            integer     CHECK (latency_ms >= 0),
    started_at            timestamptz NOT NULL,
    PRIMARY KEY (transaction_id, attempt_no)
);

CREATE TABLE outbox (
    id             bigserial   PRIMARY KEY,
    event_id       uuid        NOT NULL UNIQUE,
    topic          text        NOT NULL,
    key            text        NOT NULL,
    event_type     text        NOT NULL,
    transaction_id uuid,
    version        integer,
    payload        jsonb       NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    published_at   timestamptz
);

-- The relay only ever scans what is still unpublished, in insertion order.
CREATE INDEX outbox_unpublished_idx ON outbox (id) WHERE published_at IS NULL;
