"""`payments routing replay` against a database with recorded traffic."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from domain.routing_draw import uniform
from tests.support.api import ADMIN, deposit, production_env, serve_api

PAYMENTS = [sys.executable, "-m", "entrypoints.cli", "routing", "replay"]


def split(paypal: int, stripe: int) -> dict[str, object]:
    tier = [{"gateway_id": "paypal", "weight": paypal}, {"gateway_id": "stripe", "weight": stripe}]
    return {"strategy": "weighted", "tiers": [tier]}


@pytest.fixture
def recorded(demo_database_url: str) -> list[str]:
    """40 US deposits under a 70/30 split; their transaction ids."""
    with serve_api(demo_database_url) as api:
        assert (
            api.put("/countries/US/routing", json=split(70, 30), headers=ADMIN).status_code == 200
        )
        return [deposit(api, 1, "10.00", "USD").json()["transaction_id"] for _ in range(40)]


def replay(database_url: str, draft: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PAYMENTS, "--draft", str(draft), *extra],
        env=production_env(database_url),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_cli_replays_a_draft_as_json_a_table_and_a_chart(
    recorded: list[str], demo_database_url: str, tmp_path: Path
) -> None:
    draft = tmp_path / "draft.json"
    draft.write_text(json.dumps({"US": split(30, 70)}))
    out = replay(demo_database_url, draft, "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    (us,) = report["countries"]
    assert us["transactions"] == len(recorded)
    now_paypal = {tx for tx in recorded if uniform(tx, "tier0:0") < 0.7}
    draft_paypal = {tx for tx in recorded if uniform(tx, "tier0:0") < 0.3}
    assert us["changed"] == len(now_paypal ^ draft_paypal)

    chart = tmp_path / "replay.png"
    out = replay(demo_database_url, draft, "--chart", str(chart))
    assert out.returncode == 0, out.stderr
    assert "paypal" in out.stdout
    assert f"{us['changed']}/{len(recorded)}" in out.stdout
    assert chart.read_bytes().startswith(b"\x89PNG")


def test_a_draft_naming_an_unknown_gateway_is_refused(
    demo_database_url: str, tmp_path: Path
) -> None:
    draft = tmp_path / "draft.json"
    draft.write_text(
        json.dumps({"US": {"strategy": "priority", "tiers": [[{"gateway_id": "nope"}]]}})
    )
    out = replay(demo_database_url, draft)
    assert out.returncode == 2
    assert "unknown gateway" in out.stderr


def test_the_replay_api_needs_an_admin_key(demo_database_url: str) -> None:
    with serve_api(demo_database_url) as api:
        r = api.post("/routing/replay", json={"draft": {}})
        assert r.status_code == 401
        r = api.post("/routing/replay", json={"draft": {}}, headers=ADMIN)
        assert r.status_code == 200, r.text
        assert r.json()["total"]["transactions"] >= 0
    assert isinstance(api, httpx.Client)
