"""Merchant credentials: a sandbox PSP serves its gateway-side API only to its merchant.

Like a real PSP's secret API key, each sandbox gateway has one credential,
``PAYMENTS_GATEWAY_KEY_<ID>`` (generated in the embedded default, read from
the environment otherwise), that our adapters send on every payment and
status inquiry. Anyone can reach the sandbox's port, so without this check
anyone could have it take a payment naming one of our transactions and
send us a correctly signed callback for it.

Where the credential travels, per family:

- JSON (Stripe/PayPal-like): ``Authorization: Bearer <key>``, as Stripe's
  secret keys do;
- SOAP (Adyen-like): ``X-API-Key: <key>``, Adyen's API-key header.

A gateway with no key configured refuses every caller: a missing setting
must never open the door. Health and the admin control routes are not
gateway-side and keep their own rules.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any

from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.exceptions import NotFoundException
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Guard

from entrypoints.http.auth import bearer_key
from entrypoints.sandbox.psp import Gateways

SOAP_KEY_HEADER = "x-api-key"
REFUSAL = "missing or wrong merchant credential for this gateway"


class MerchantRefused(Exception):
    """A gateway-side call without this gateway's merchant credential."""


def is_merchant(expected: str | None, presented: str | None) -> bool:
    """Whether ``presented`` is the gateway's credential (never true without one)."""
    if not expected or not presented:
        return False
    # Bytes, so a non-ASCII header is a mismatch rather than a TypeError.
    return hmac.compare_digest(expected.encode(), presented.encode())


def soap_credential(headers: Mapping[str, str]) -> str | None:
    """The credential a SOAP-family call carries (``X-API-Key``)."""
    return headers.get(SOAP_KEY_HEADER) or None


def merchant_guard(sandbox: Gateways) -> Guard:
    """Guard for the JSON family's gateway-side routes: ``Authorization: Bearer <key>``.

    A guard runs before the body is parsed, so a stranger learns nothing, not
    even whether the body would have been valid.
    """

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        gateway_id = connection.path_params["gateway_id"]
        gw = sandbox.get(gateway_id)
        if gw is None:
            # Answered here, before the path and body are validated: a caller
            # without the key learns nothing but that there is no such PSP.
            raise NotFoundException(f"no sandbox gateway {gateway_id!r}")
        presented = bearer_key(connection.headers.get("authorization", ""))
        if not is_merchant(gw.merchant_key, presented):
            raise MerchantRefused(REFUSAL)

    return guard


def refused_json(_request: Request[Any, Any, Any], exc: MerchantRefused) -> Response[Any]:
    """The JSON family's 401, in the PSP's own error shape like its other refusals."""
    return Response(
        {"error": {"code": "unauthorized", "message": str(exc)}},
        status_code=401,
        headers={"WWW-Authenticate": "Bearer"},
    )
