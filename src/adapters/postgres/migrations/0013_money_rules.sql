-- 0013: money rules for trading platforms: velocity limits, reversal windows,
-- closed-loop withdrawals (domain/limits.py, domain/withdrawable.py, domain/closed_loop.py).

-- Per country and operation, in the country's currency; NULL: unlimited.
CREATE TABLE country_limits (
    country_code       char(2) NOT NULL REFERENCES countries (code),
    operation          text    NOT NULL CHECK (operation IN ('deposit', 'withdrawal')),
    max_amount_minor   bigint  CHECK (max_amount_minor > 0),
    daily_amount_minor bigint  CHECK (daily_amount_minor > 0),
    daily_count        integer CHECK (daily_count > 0),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (country_code, operation)
);
-- Serving processes cache limits with the routes: tell them (migration 0005).
CREATE TRIGGER country_limits_routing_changed
    AFTER INSERT OR UPDATE OR DELETE ON country_limits
    FOR EACH STATEMENT EXECUTE FUNCTION routing_changed();

-- Hours a gateway's deposit may still be reversed (chargeback): not withdrawable meanwhile.
ALTER TABLE gateways ADD COLUMN reversal_window_hours integer NOT NULL DEFAULT 0
    CHECK (reversal_window_hours BETWEEN 0 AND 8760);

-- The closed-loop switch (written by the routing API; the same idempotent column there).
ALTER TABLE countries ADD COLUMN IF NOT EXISTS closed_loop boolean NOT NULL DEFAULT false;

-- A withdrawal may now be a leg of another withdrawal (closed loop); a refund
-- still names its deposit, and a deposit never has a parent.
ALTER TABLE transactions DROP CONSTRAINT transactions_refund_parent;
ALTER TABLE transactions ADD CONSTRAINT transactions_parent CHECK (
    (type = 'refund' AND parent_transaction_id IS NOT NULL)
    OR (type = 'deposit' AND parent_transaction_id IS NULL)
    OR type = 'withdrawal'
);
