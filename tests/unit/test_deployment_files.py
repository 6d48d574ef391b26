"""The container files keep their promises (validated with `docker compose config`
where a Docker CLI with compose exists; these checks run everywhere)."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_dockerfile_is_multi_stage_non_root_and_healthchecked() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert text.count("FROM ") >= 2
    assert "uv sync --frozen --no-dev" in text
    assert "\nUSER payments" in text
    assert "HEALTHCHECK" in text
    assert 'CMD ["payments", "serve"]' in text


def test_compose_has_every_part_with_healthchecks() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"app", "worker", "postgres", "kafka", "sandbox", "migrate"} <= set(services)
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["kafka"]["image"].startswith("apache/kafka:4")
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    for name in ("app", "worker", "postgres", "kafka", "sandbox"):
        has_check = "healthcheck" in services[name] or name == "app"  # app: the image's
        assert has_check, name
    assert services["app"]["environment"]["PAYMENTS_RUN_WORKERS"] == "0"
    assert services["worker"]["command"] == ["payments", "worker"]
