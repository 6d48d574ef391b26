"""The merchant credential travels: settings and the embedded default hold one per
gateway, our adapters send it, and a sandbox without it refuses to start."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from litestar import Litestar

from adapters.gateways.json_http import JsonGatewayProvider
from adapters.gateways.soap_http import SoapGatewayProvider
from application.ports import GatewayUnreachable, PaymentInstruction
from domain.transaction import AttemptOutcome, TransactionType
from entrypoints.embedded import SECRETS_FILE, with_stored_secrets
from entrypoints.gateways import build_monitors, build_registry
from entrypoints.http.auth import admin_guard
from entrypoints.sandbox.families import sandbox_routes
from entrypoints.sandbox.psp import Sandbox
from entrypoints.sandbox.server import run_sandbox
from entrypoints.settings import (
    GatewayEndpoint,
    Settings,
    SettingsError,
    load_settings,
    require_production_secrets,
)

KEY = "sk_merchant_1"
DEPOSIT = PaymentInstruction(
    transaction_id="tx-1",
    reference="tx-1:1",
    type=TransactionType.DEPOSIT,
    user_id=1,
    amount="10.00",
    amount_minor=1000,
    currency="USD",
)
ENDPOINTS = (
    GatewayEndpoint("paypal", "json", "http://psp.test/sandbox/paypal"),
    GatewayEndpoint("adyen", "soap", "http://psp.test/sandbox/adyen"),
)


def recording(answer: httpx.Response) -> tuple[httpx.AsyncClient, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer

    return httpx.AsyncClient(transport=httpx.MockTransport(handler)), seen


# -- our adapters send it ---------------------------------------------------------------
async def test_the_json_adapter_sends_its_merchant_key_on_payments_and_inquiries() -> None:
    client, seen = recording(httpx.Response(404, json={"error": {"code": "payment_not_found"}}))
    paypal = JsonGatewayProvider(
        "paypal", "http://psp.test/sandbox/paypal", client, merchant_key=KEY
    )

    await paypal.submit(DEPOSIT)
    await paypal.inquire("tx-1:1")

    assert [r.headers.get("authorization") for r in seen] == [f"Bearer {KEY}"] * 2


async def test_the_soap_adapter_sends_its_merchant_key_on_payments_and_inquiries() -> None:
    client, seen = recording(httpx.Response(503))
    adyen = SoapGatewayProvider("adyen", "http://psp.test/sandbox/adyen", client, merchant_key=KEY)

    await adyen.submit(DEPOSIT)
    with pytest.raises(GatewayUnreachable):
        await adyen.inquire("tx-1:1")

    assert [r.headers.get("x-api-key") for r in seen] == [KEY] * 2
    assert all("authorization" not in r.headers for r in seen)


async def test_an_adapter_without_a_key_sends_no_credential_at_all() -> None:
    client, seen = recording(httpx.Response(503))
    await JsonGatewayProvider("paypal", "http://psp.test/p", client).submit(DEPOSIT)
    await SoapGatewayProvider("adyen", "http://psp.test/a", client).submit(DEPOSIT)
    assert all("authorization" not in r.headers and "x-api-key" not in r.headers for r in seen)


async def test_the_registry_gives_each_gateway_its_own_key() -> None:
    settings = Settings(gateways=ENDPOINTS, gateway_keys={"paypal": "sk_p", "adyen": "AQE_a"})
    client, seen = recording(httpx.Response(503))
    registry = build_registry(settings, client, build_monitors(settings))
    for gateway_id in ("paypal", "adyen"):
        provider = registry.get(gateway_id)
        assert provider is not None
        await provider.submit(DEPOSIT)
    sent = {r.url.path: (r.headers.get("authorization"), r.headers.get("x-api-key")) for r in seen}
    assert sent == {
        "/sandbox/paypal/payments": ("Bearer sk_p", None),
        "/sandbox/adyen/soap": (None, "AQE_a"),
    }


# -- round trips: the sandbox takes our adapters' calls, and only with the key -----------
def sandbox_client(sandbox: Sandbox) -> httpx.AsyncClient:
    app = Litestar(route_handlers=sandbox_routes(sandbox, admin_guard))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox.test")


Adapter = Callable[[httpx.AsyncClient, str], JsonGatewayProvider | SoapGatewayProvider]
ADAPTERS: dict[str, Adapter] = {
    "paypal": lambda c, k: JsonGatewayProvider(
        "paypal", "http://sandbox.test/sandbox/paypal", c, merchant_key=k
    ),
    "adyen": lambda c, k: SoapGatewayProvider(
        "adyen", "http://sandbox.test/sandbox/adyen", c, merchant_key=k
    ),
}


@pytest.mark.parametrize("gateway_id", ADAPTERS)
async def test_our_adapter_with_the_merchant_key_is_accepted_and_with_another_declined(
    gateway_id: str,
) -> None:
    sandbox = Sandbox({"paypal": "json", "adyen": "soap"}, keys={gateway_id: KEY})
    async with sandbox_client(sandbox) as client:
        refused = await ADAPTERS[gateway_id](client, "sk_not_it").submit(DEPOSIT)
        assert sandbox.gateways[gateway_id].payments == {}
        accepted = await ADAPTERS[gateway_id](client, KEY).submit(DEPOSIT)

    assert refused.outcome is AttemptOutcome.DECLINED
    assert refused.error_code in ("unauthorized", "http_401")
    assert accepted.outcome is AttemptOutcome.ACCEPTED
    assert list(sandbox.gateways[gateway_id].payments) == ["tx-1:1"]


# -- where the key comes from ------------------------------------------------------------
def test_each_gateway_reads_its_key_from_the_environment() -> None:
    settings = load_settings(
        {
            "PAYMENTS_GATEWAYS": "paypal:json,pay-now:json",
            "PAYMENTS_GATEWAY_KEY_PAYPAL": " sk_paypal ",
            "PAYMENTS_GATEWAY_KEY_PAY_NOW": "sk_pay_now",
        }
    )
    assert settings.gateway_keys == {"paypal": "sk_paypal", "pay-now": "sk_pay_now"}


def test_production_refuses_to_start_without_every_gateway_key() -> None:
    settings = load_settings(
        {
            "PAYMENTS_DATABASE_URL": "postgresql://db/payments",
            "PAYMENTS_API_KEYS": "c",
            "PAYMENTS_ADMIN_API_KEYS": "a",
            "PAYMENTS_ENCRYPTION_KEYS": "k1:AAAA",
            "PAYMENTS_GATEWAYS": "paypal:json,adyen:soap",
            "PAYMENTS_WEBHOOK_SECRET_PAYPAL": "whsec_p",
            "PAYMENTS_WEBHOOK_SECRET_ADYEN": "AB",
            "PAYMENTS_GATEWAY_KEY_PAYPAL": "sk_p",
        }
    )
    with pytest.raises(SettingsError, match="PAYMENTS_GATEWAY_KEY_ADYEN") as refused:
        require_production_secrets(settings)
    assert "PAYMENTS_GATEWAY_KEY_PAYPAL" not in str(refused.value)


def test_the_embedded_default_generates_one_key_per_gateway_once(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, embedded=True, gateways=ENDPOINTS)

    first = with_stored_secrets(settings)
    again = with_stored_secrets(settings)

    assert set(first.gateway_keys) == {"paypal", "adyen"}
    assert len(set(first.gateway_keys.values())) == 2
    assert all(len(k) >= 32 for k in first.gateway_keys.values())
    assert again.gateway_keys == first.gateway_keys  # kept in the data dir, not regenerated
    stored = json.loads((tmp_path / SECRETS_FILE).read_text())
    assert stored["gateway_keys"] == first.gateway_keys
    assert stat.S_IMODE((tmp_path / SECRETS_FILE).stat().st_mode) == 0o600
    configured = with_stored_secrets(settings.with_(gateway_keys={"paypal": "sk_mine"}))
    assert configured.gateway_keys["paypal"] == "sk_mine"  # the environment wins


def test_the_standalone_sandbox_refuses_to_start_without_its_merchant_keys() -> None:
    settings = Settings(
        database_url="postgresql://db/payments",
        gateways=ENDPOINTS,
        gateway_keys={"paypal": "sk_p"},
    )
    with pytest.raises(SettingsError, match="PAYMENTS_GATEWAY_KEY_ADYEN"):
        run_sandbox(settings, "127.0.0.1", 0)
