"""Settings, read once from ``PAYMENTS_*`` environment variables.

model.py holds the Settings dataclass, environment.py reads the environment
into it and checks.py refuses values that cannot work.
"""

from entrypoints.settings.environment import (
    gateway_key_env,
    load_settings,
    require_production_secrets,
)
from entrypoints.settings.model import (
    DEFAULT_GATEWAYS,
    GatewayEndpoint,
    GatewayFormat,
    Settings,
    SettingsError,
)

__all__ = [
    "DEFAULT_GATEWAYS",
    "GatewayEndpoint",
    "GatewayFormat",
    "Settings",
    "SettingsError",
    "gateway_key_env",
    "load_settings",
    "require_production_secrets",
]
