-- 0011: the stripe_api wire family (Stripe's own API) beside json and soap.

ALTER TABLE gateways DROP CONSTRAINT gateways_format_check;
ALTER TABLE gateways ADD CONSTRAINT gateways_format_check
    CHECK (format IN ('json', 'soap', 'stripe_api'));
