"""docs/openapi.json is the document the code generates (regenerate when it changes)."""

from __future__ import annotations

import json
from pathlib import Path

from entrypoints.openapi import document

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def test_the_committed_openapi_document_is_up_to_date() -> None:
    committed = json.loads(COMMITTED.read_text())
    assert committed == json.loads(json.dumps(document(), sort_keys=True)), (
        "docs/openapi.json is stale: uv run python -m entrypoints.openapi > docs/openapi.json"
    )


def test_every_contract_operation_is_documented_with_its_problems() -> None:
    paths = document()["paths"]
    assert isinstance(paths, dict)
    deposit = paths["/deposit"]["post"]
    assert {"201", "400", "401", "402", "409", "422", "503"} <= set(deposit["responses"])
    problem = deposit["responses"]["402"]["content"]
    assert "application/problem+json" in problem
    for path in (
        "/withdrawal",
        "/callback/{gateway_id}",
        "/reconciliation/issues",
        "/gateways",
        "/countries/{country}/gateways",
        "/users/{user_id}/balances",
    ):
        assert path in paths, path
