"""The servers' client limits come from the settings (2/7 item 7; behaviour in
tests/integration/test_slow_clients.py)."""

from __future__ import annotations

from granian.http import HTTP1Settings

from entrypoints.http_server import GuardedHttpToolsProtocol, granian_server, uvicorn_config
from entrypoints.settings import Settings, load_settings


def test_uvicorn_gets_the_guarded_protocol_with_our_limits() -> None:
    settings = Settings(header_timeout_s=3.0, max_header_bytes=9000, keep_alive_timeout_s=4.0)
    config = uvicorn_config(object(), settings)
    assert isinstance(config.http, type)
    assert issubclass(config.http, GuardedHttpToolsProtocol)
    assert (config.http.header_timeout_s, config.http.max_header_bytes) == (3.0, 9000)
    assert config.timeout_keep_alive == 4
    assert config.limit_concurrency == settings.max_connections


def test_uvicorn_believes_forwarded_headers_only_from_configured_proxies() -> None:
    assert uvicorn_config(object(), Settings()).proxy_headers is False
    trusted = load_settings({"PAYMENTS_TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.2"})
    config = uvicorn_config(object(), trusted)
    assert config.proxy_headers is True
    assert config.forwarded_allow_ips == ["10.0.0.0/8", "192.168.1.2"]


def test_granian_gets_the_same_header_timeout_and_size() -> None:
    server = granian_server(Settings(header_timeout_s=3.0, max_header_bytes=9000), workers=2)
    http1: HTTP1Settings = server.http1_settings
    assert http1.header_read_timeout == 3000
    assert http1.max_buffer_size == 9000
    assert server.workers == 2


def test_the_defaults_close_slow_and_idle_clients_in_seconds() -> None:
    settings = Settings()
    assert settings.header_timeout_s == 10.0
    assert settings.keep_alive_timeout_s == 5.0
    assert settings.max_header_bytes == 16 * 1024
