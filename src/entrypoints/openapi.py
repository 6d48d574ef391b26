"""Print the OpenAPI document the app serves at /schema/openapi.json.

``uv run python -m entrypoints.openapi > docs/openapi.json`` keeps the
committed copy in step with the code (a test fails when it is stale).
"""

from __future__ import annotations

import json
import sys

from adapters.crypto.keyring import Keyring
from entrypoints.container import Container
from entrypoints.http.app import create_app
from entrypoints.settings import Settings


def document() -> dict[str, object]:
    """The schema of the API as deployed (sandbox routes excluded)."""
    settings = Settings(
        api_keys=("unused",),
        admin_api_keys=("unused-admin",),
        encryption_keys=Keyring.new_key_spec("doc"),
        run_workers=False,
    )
    app = create_app(settings, Container(settings=settings))
    schema: dict[str, object] = app.openapi_schema.to_schema()
    return schema


def main() -> None:
    json.dump(document(), sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
