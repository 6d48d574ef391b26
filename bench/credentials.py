"""The bench stack's gateways and the fresh secrets each run gives the service and sandbox."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from adapters.crypto.keyring import Keyring

GATEWAYS = {"paypal": "json", "stripe": "json", "adyen": "soap"}


@dataclass
class Secrets:
    api_key: str = field(default_factory=lambda: f"sk_client_bench_{secrets.token_urlsafe(18)}")
    admin_key: str = field(default_factory=lambda: f"sk_admin_bench_{secrets.token_urlsafe(18)}")
    encryption_keys: str = field(default_factory=lambda: Keyring.new_key_spec("b1"))
    webhook: dict[str, str] = field(
        default_factory=lambda: {
            gid: secrets.token_hex(32).upper()
            if family == "soap"
            else f"whsec_{secrets.token_urlsafe(32)}"
            for gid, family in GATEWAYS.items()
        }
    )
    # The merchant credential each sandbox PSP takes payments with.
    merchant: dict[str, str] = field(
        default_factory=lambda: {gid: f"mk_bench_{secrets.token_urlsafe(18)}" for gid in GATEWAYS}
    )

    def env(self) -> dict[str, str]:
        out = {
            "PAYMENTS_API_KEYS": self.api_key,
            "PAYMENTS_ADMIN_API_KEYS": self.admin_key,
            "PAYMENTS_ENCRYPTION_KEYS": self.encryption_keys,
            "PAYMENTS_GATEWAYS": ",".join(f"{g}:{f}" for g, f in GATEWAYS.items()),
        }
        for gid, secret in self.webhook.items():
            out[f"PAYMENTS_WEBHOOK_SECRET_{gid.upper()}"] = secret
        for gid, key in self.merchant.items():
            out[f"PAYMENTS_GATEWAY_KEY_{gid.upper()}"] = key
        return out
