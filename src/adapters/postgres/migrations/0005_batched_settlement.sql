-- 0005_batched_settlement: one pipelined write path and callbacks applied in
-- batches, with bounded retries and a quarantine.

-- A guard for multi-row writes sent without waiting for their results: the
-- optimistic lock of a batch of UPDATEs is one statement that raises when
-- fewer rows matched than were sent. SQLSTATE 40001 (serialization_failure)
-- so the driver reports it like any other lost race: read again, retry.
CREATE FUNCTION payments_expect_rows(matched bigint, wanted bigint, what text)
RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
    IF matched <> wanted THEN
        RAISE EXCEPTION '% (% of % rows matched)', what, matched, wanted
            USING ERRCODE = '40001';
    END IF;
    RETURN matched;
END;
$$;

-- The no-overdraft guard of a commit's net debits (adapters/postgres/ledger.py):
-- a debit that found no account to take the money from is "not enough money",
-- reported exactly like the CHECK on an account that would go below zero.
CREATE FUNCTION payments_expect_funds(debited bigint, debits bigint)
RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
    IF debited <> debits THEN
        RAISE EXCEPTION 'insufficient funds: % of % debited accounts exist', debited, debits
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_accounts_non_negative';
    END IF;
    RETURN debited;
END;
$$;

-- The verified callback's fields (never the raw body: that stays encrypted in
-- body_enc), so a retry can apply it again without the gateway re-sending.
ALTER TABLE callback_inbox ADD COLUMN callback jsonb;
-- Apply attempts that raised, when to try again, and what went wrong.
ALTER TABLE callback_inbox ADD COLUMN apply_attempts integer NOT NULL DEFAULT 0
    CHECK (apply_attempts >= 0);
ALTER TABLE callback_inbox ADD COLUMN next_attempt_at timestamptz;
ALTER TABLE callback_inbox ADD COLUMN last_error text;

-- 'quarantined': could not be applied after its retries; a reconciliation
-- issue names the error and the callback no longer holds anyone up.
ALTER TABLE callback_inbox DROP CONSTRAINT callback_inbox_status_check;
ALTER TABLE callback_inbox ADD CONSTRAINT callback_inbox_status_check
    CHECK (status IN ('received', 'applied', 'duplicate', 'flagged', 'quarantined'));

-- The settlement backlog (oldest callback not yet applied) and the retry
-- sweep read only the unsettled rows.
CREATE INDEX callback_inbox_unsettled_idx ON callback_inbox (received_at)
    WHERE status = 'received';
CREATE INDEX callback_inbox_retry_idx ON callback_inbox (next_attempt_at)
    WHERE status = 'received' AND next_attempt_at IS NOT NULL;

-- Every process caches users' countries and countries' routes; a change to
-- any of them (admin API, or SQL by hand as in docs/adding-a-gateway.md)
-- tells every listener at commit, so no process routes on stale data.
CREATE FUNCTION routing_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('payments_routing', TG_TABLE_NAME);
    RETURN NULL;
END;
$$;
CREATE TRIGGER users_routing_changed AFTER INSERT OR UPDATE OR DELETE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION routing_changed();
CREATE TRIGGER gateways_routing_changed AFTER INSERT OR UPDATE OR DELETE ON gateways
    FOR EACH STATEMENT EXECUTE FUNCTION routing_changed();
CREATE TRIGGER gateway_countries_routing_changed
    AFTER INSERT OR UPDATE OR DELETE ON gateway_countries
    FOR EACH STATEMENT EXECUTE FUNCTION routing_changed();
CREATE TRIGGER countries_routing_changed AFTER INSERT OR UPDATE OR DELETE ON countries
    FOR EACH STATEMENT EXECUTE FUNCTION routing_changed();
