-- 0007: logged-out dashboard sessions.

-- Session cookies are signed, not stored; a logout must still end the session
-- on every replica and after restarts, so its nonce is kept here until the
-- cookie would have expired anyway (its absolute lifetime), then purged.
CREATE TABLE dashboard_revocations (
    nonce      text        PRIMARY KEY CHECK (length(nonce) BETWEEN 1 AND 64),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dashboard_revocations_expiry_idx ON dashboard_revocations (expires_at);
