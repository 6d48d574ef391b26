-- 0010_webhook_secret_rotation: a rolled endpoint secret keeps signing for a while.

-- After POST /webhook-endpoints/{id}/secret the secret it replaced signs
-- alongside the new one until previous_secret_expires_at, so a platform can
-- switch its verifier without losing events. AES-GCM encrypted like
-- secret_enc, under its own associated data (webhooks_endpoints.py
-- previous_secret_aad); both columns are NULL when no previous secret signs.
ALTER TABLE webhook_endpoints
    ADD COLUMN previous_secret_enc        text,
    ADD COLUMN previous_secret_expires_at timestamptz,
    ADD CONSTRAINT webhook_endpoints_previous_secret_both
        CHECK ((previous_secret_enc IS NULL) = (previous_secret_expires_at IS NULL));
