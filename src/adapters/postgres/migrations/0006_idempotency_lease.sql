-- 0006: an in-flight idempotency key is leased to one request, and names the
-- transaction that request creates.
--
-- The request holding a key renews its lease while it runs; a lease that ran
-- out means the request is gone (its process was killed), and the next retry
-- takes the key over instead of getting 409 until the key expires. The
-- transaction id is reserved when the key is claimed, before the transaction
-- row can exist, so after a crash at any point either no transaction has that
-- id or the key points to it.
ALTER TABLE idempotency_keys
    ADD COLUMN owner            text,         -- a token of the request holding the lease
    ADD COLUMN lease_expires_at timestamptz,
    ADD COLUMN transaction_id   uuid;

-- Keys in flight across the upgrade name no transaction: they keep the old
-- rule (held until the key expires) rather than risk a second payment.
UPDATE idempotency_keys SET lease_expires_at = expires_at WHERE state = 'in_flight';
