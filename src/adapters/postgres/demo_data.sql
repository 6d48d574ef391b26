-- Demo data for the embedded default (DESIGN.md, "Demo data").
-- Loaded on every start, so every statement leaves existing rows alone:
-- operator edits (a gateway switched down, a user moved, new priorities)
-- survive restarts.

INSERT INTO countries (code, name, currency) VALUES
    ('US', 'United States', 'USD'),
    ('GB', 'United Kingdom', 'GBP'),
    ('DE', 'Germany', 'EUR'),
    ('JP', 'Japan', 'JPY')
ON CONFLICT (code) DO NOTHING;

INSERT INTO gateways (id, name, format, operations, currencies) VALUES
    ('paypal', 'PayPal', 'json', '{deposit,withdrawal}', '{USD,EUR,GBP,JPY,CHF,CAD,AUD}'),
    ('stripe', 'Stripe', 'stripe_api', '{deposit,withdrawal}', '{USD,EUR,GBP,JPY,CHF,CAD,AUD}'),
    ('adyen',  'Adyen',  'soap', '{deposit,withdrawal}', '{USD,EUR,GBP,JPY,CHF,CAD,AUD}')
ON CONFLICT (id) DO NOTHING;

-- A country's list is seeded only while it has none. ON CONFLICT cannot guard
-- the deferred (country_code, priority) constraint (PostgreSQL refuses
-- deferrable arbiters), so without this a list the operator reordered could
-- make the load fail at commit, and entries the operator removed would return.
INSERT INTO gateway_countries (country_code, gateway_id, priority)
SELECT seed.country_code, seed.gateway_id, seed.priority
FROM (VALUES
    ('US', 'paypal', 1), ('US', 'stripe', 2), ('US', 'adyen', 3),
    ('GB', 'stripe', 1), ('GB', 'paypal', 2), ('GB', 'adyen', 3),
    ('DE', 'adyen', 1), ('DE', 'stripe', 2), ('DE', 'paypal', 3),
    ('JP', 'paypal', 1), ('JP', 'stripe', 2)
) AS seed (country_code, gateway_id, priority)
WHERE NOT EXISTS (
    SELECT 1 FROM gateway_countries existing
    WHERE existing.country_code = seed.country_code
)
ON CONFLICT (country_code, gateway_id) DO NOTHING;

INSERT INTO users (id, country_code) VALUES
    (1, 'US'),
    (2, 'GB'),
    (3, 'DE'),
    (4, 'JP')
ON CONFLICT (id) DO NOTHING;
