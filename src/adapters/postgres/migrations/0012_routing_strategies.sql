-- 0012: routing strategies (domain/routing_config.py), per country.
-- A country without a row here routes by its gateway_countries list
-- (strategy "priority", one gateway per tier), as before.
CREATE TABLE country_routing (
    country_code char(2)     PRIMARY KEY REFERENCES countries (code),
    strategy     text        NOT NULL CHECK (strategy IN ('priority', 'weighted', 'success_rate')),
    -- [[{"gateway_id": "paypal", "weight": 70}, ...], ...]; rules: [{"when": {...}, "tiers": [...]}]
    tiers        jsonb       NOT NULL,
    rules        jsonb       NOT NULL DEFAULT '[]',
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- Read by closed-loop withdrawals; the limits migration adds it the same way.
ALTER TABLE countries ADD COLUMN IF NOT EXISTS closed_loop boolean NOT NULL DEFAULT false;

-- Every serving process drops its route cache when a document changes.
CREATE TRIGGER country_routing_routing_changed
    AFTER INSERT OR UPDATE OR DELETE ON country_routing
    FOR EACH STATEMENT EXECUTE FUNCTION routing_changed();

-- Success statistics and replays read the recent attempts by time.
CREATE INDEX transaction_attempts_started_idx ON transaction_attempts (started_at);
