"""The requests the harness sends: deposits for the bench users, signed callbacks."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

from bench.credentials import GATEWAYS
from bench.database import COUNTRIES
from bench.loadspec import RequestTemplate
from bench.stack import Stack


def deposit_templates(stack: Stack) -> list[RequestTemplate]:
    """One ``POST /deposit`` per bench user, in the user's currency."""
    key = stack.secrets.api_key
    out = []
    for user_id, country in stack.user_ids():
        currency, amount = COUNTRIES[country]
        body = json.dumps({"user_id": user_id, "amount": amount, "currency": currency})
        out.append(
            RequestTemplate(
                "POST",
                "/deposit",
                (("Authorization", f"Bearer {key}"), ("Content-Type", "application/json")),
                body.encode(),
            )
        )
    return out


def callback_template(
    webhook: dict[str, str],
    transaction_id: str,
    gateway_id: str,
    reference_id: str,
    amount_minor: int,
    currency: str,
) -> RequestTemplate:
    """A signed callback completing one deposit, as that gateway's family sends it."""
    from adapters.gateways.signing_json import SIGNATURE_HEADER, sign_json
    from adapters.gateways.signing_soap import NotificationItem, sign_adyen_item
    from adapters.gateways.soap_notification import build_notification

    secret = webhook[gateway_id]
    if GATEWAYS[gateway_id] == "soap":
        item = NotificationItem(
            psp_reference=reference_id,
            original_reference="",
            merchant_account="PaymentsPlatform",
            merchant_reference=transaction_id,
            value=amount_minor,
            currency=currency.strip(),
            event_code="AUTHORISATION",
            success=True,
            reason="",
            event_date=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        body = build_notification([sign_adyen_item(item, secret)])
        return RequestTemplate(
            "POST", f"/callback/{gateway_id}", (("Content-Type", "text/xml; charset=utf-8"),), body
        )
    payload = json.dumps(
        {
            "event_id": f"evt_bench_{transaction_id}",
            "transaction_id": transaction_id,
            "reference_id": reference_id,
            "status": "completed",
            "message": "Payment successful",
        }
    ).encode()
    signature = sign_json(payload, [secret], int(time.time()))
    return RequestTemplate(
        "POST",
        f"/callback/{gateway_id}",
        (("Content-Type", "application/json"), (SIGNATURE_HEADER, signature)),
        payload,
    )
