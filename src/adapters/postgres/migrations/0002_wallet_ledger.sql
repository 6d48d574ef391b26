-- 0002_wallet_ledger: double-entry wallet, retries per attempt, encrypted payout
-- destinations.

-- One row per (user, currency, kind); the platform's external (gateway
-- clearing) account per currency has no user and is the only one allowed
-- below zero. User balances are maintained here under row locks; the external
-- balance is the sum of its postings (no hot row every payment must lock).
CREATE TABLE ledger_accounts (
    id            bigserial PRIMARY KEY,
    user_id       bigint    REFERENCES users (id),
    currency      char(3)   NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    kind          text      NOT NULL CHECK (kind IN ('available', 'held', 'external')),
    balance_minor bigint    NOT NULL DEFAULT 0,
    CONSTRAINT ledger_accounts_owner CHECK ((kind = 'external') = (user_id IS NULL)),
    CONSTRAINT ledger_accounts_non_negative CHECK (kind = 'external' OR balance_minor >= 0)
);
CREATE UNIQUE INDEX ledger_accounts_user_key
    ON ledger_accounts (user_id, currency, kind) WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX ledger_accounts_external_key
    ON ledger_accounts (currency) WHERE user_id IS NULL;

-- At most one journal of each kind per transaction: replays are no-ops.
CREATE TABLE ledger_journals (
    id             bigserial   PRIMARY KEY,
    transaction_id uuid        NOT NULL REFERENCES transactions (id),
    kind           text        NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT ledger_journals_once UNIQUE (transaction_id, kind)
);

CREATE TABLE ledger_postings (
    journal_id   bigint NOT NULL REFERENCES ledger_journals (id),
    account_id   bigint NOT NULL REFERENCES ledger_accounts (id),
    amount_minor bigint NOT NULL CHECK (amount_minor <> 0),
    PRIMARY KEY (journal_id, account_id)
);
CREATE INDEX ledger_postings_account_idx ON ledger_postings (account_id);

-- Every journal sums to zero, checked at commit (after all its postings).
CREATE FUNCTION ledger_journal_balanced() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT coalesce(sum(amount_minor), 0) FROM ledger_postings
        WHERE journal_id = NEW.journal_id) <> 0 THEN
        RAISE EXCEPTION 'ledger journal % does not sum to zero', NEW.journal_id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$;
CREATE CONSTRAINT TRIGGER ledger_postings_balanced
    AFTER INSERT ON ledger_postings
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_journal_balanced();

-- Postings and journals are history: never edited, never deleted.
CREATE FUNCTION ledger_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger history is append-only' USING ERRCODE = 'restrict_violation';
END;
$$;
CREATE TRIGGER ledger_postings_append_only BEFORE UPDATE OR DELETE ON ledger_postings
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER ledger_journals_append_only BEFORE UPDATE OR DELETE ON ledger_journals
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();

-- Calls made under one idempotency reference (retries of transient refusals).
ALTER TABLE transaction_attempts ADD COLUMN tries integer NOT NULL DEFAULT 0
    CHECK (tries >= 0);

-- AES-GCM token (key id inside), bound to this row by associated data.
ALTER TABLE transactions ADD COLUMN destination_enc text;
