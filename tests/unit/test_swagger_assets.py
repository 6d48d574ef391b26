"""Swagger UI loads nothing from a CDN (2/7 item 10): every asset is ours."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from entrypoints.http.app import create_app
from tests.unit.conftest import World


@pytest.fixture
def client(world: World) -> Iterator[TestClient[Any]]:
    with TestClient(create_app(world.container.settings(), world.container)) as c:
        yield c


def test_the_swagger_page_references_no_other_host(client: TestClient[Any]) -> None:
    page = client.get("/schema/swagger")
    assert page.status_code == 200
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
    assert urls, page.text
    assert all(url.startswith("/") and not url.startswith("//") for url in urls), urls
    assert "cdn" not in page.text.lower()


def test_every_asset_the_page_loads_is_served_without_a_key(client: TestClient[Any]) -> None:
    page = client.get("/schema/swagger").text
    urls = re.findall(r"""(?:src|href)=["'](/[^"']+)["']""", page)
    assert len(urls) >= 4
    for url in urls:
        answer = client.get(url)
        assert answer.status_code == 200, url
        assert len(answer.content) > 500, url


def test_the_bundled_swagger_ui_renders_openapi_3_1(client: TestClient[Any]) -> None:
    bundle = client.get("/schema/assets/swagger-ui-bundle.js").text
    # Swagger UI learnt OpenAPI 3.1 in 5.0; the 4.x bundles refuse 3.1 documents.
    assert "OpenAPI 3.1" in bundle or "3.1.0" in bundle
    assert client.get("/schema/openapi.json").json()["openapi"].startswith("3.1")
