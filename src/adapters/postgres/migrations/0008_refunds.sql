-- 0008: refunds, transactions of their own pointing at the deposit they give back.

ALTER TABLE transactions DROP CONSTRAINT transactions_type_check;
ALTER TABLE transactions ADD CONSTRAINT transactions_type_check
    CHECK (type IN ('deposit', 'withdrawal', 'refund'));

-- A refund, and only a refund, names its deposit (domain/refunds.py).
ALTER TABLE transactions ADD COLUMN parent_transaction_id uuid REFERENCES transactions (id);
ALTER TABLE transactions ADD CONSTRAINT transactions_refund_parent
    CHECK ((type = 'refund') = (parent_transaction_id IS NOT NULL));

-- A deposit's refunds: read (under the deposit's row lock) before each new one.
CREATE INDEX transactions_parent_idx
    ON transactions (parent_transaction_id, created_at)
    WHERE parent_transaction_id IS NOT NULL;
