"""docs/adding-a-gateway.md, executed: a fourth gateway for a new country,
with no code change (configuration, reference data, priorities)."""

from __future__ import annotations

import psycopg

from tests.support.api import ADMIN, CLIENT, deposit, serve_api, wait_for_status

# The SQL from the guide, step 2.
REFERENCE_DATA = """
INSERT INTO countries (code, name, currency) VALUES ('NL', 'Netherlands', 'EUR');
INSERT INTO gateways (id, name, format, operations, currencies)
VALUES ('mollie', 'Mollie', 'json', ARRAY['deposit', 'withdrawal'], ARRAY['EUR']);
"""


def test_a_fourth_gateway_for_a_new_country(demo_database_url: str) -> None:
    with psycopg.connect(demo_database_url) as conn:
        conn.execute(REFERENCE_DATA)
    with serve_api(
        demo_database_url,
        PAYMENTS_GATEWAYS="paypal:json,stripe:stripe_api,adyen:soap,mollie:json",
        PAYMENTS_WEBHOOK_SECRET_MOLLIE="whsec_it_mollie",
        PAYMENTS_GATEWAY_KEY_MOLLIE="sk_it_mollie_merchant",
    ) as api:
        # Step 3: the routing table and a user, through the operator API.
        priorities = [
            {"gateway_id": "mollie", "priority": 1},
            {"gateway_id": "adyen", "priority": 2},
        ]
        assert api.put("/countries/NL/gateways", json=priorities, headers=ADMIN).status_code == 200
        assert api.put("/users/50", json={"country": "NL"}, headers=ADMIN).status_code == 201
        # Step 4: a deposit goes to the new gateway and completes through its callback.
        tx = deposit(api, 50, "25.00", "EUR").json()
        assert tx["gateway"] == "mollie"
        wait_for_status(api, tx["transaction_id"], "completed")
        assert api.get("/users/50/balances", headers=CLIENT).json() == [
            {"currency": "EUR", "available": "25.00", "withdrawable": "25.00", "held": "0.00"}
        ]
        mollie = next(g for g in api.get("/gateways", headers=ADMIN).json() if g["id"] == "mollie")
        assert (mollie["format"], mollie["breaker"]) == ("json", "closed")
