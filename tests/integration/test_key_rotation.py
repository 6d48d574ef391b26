"""Key rotation on real PostgreSQL: re-encrypt in batches, keep reading, drop the old key."""

from __future__ import annotations

import asyncio
import json
import subprocess
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psycopg
import pytest

from adapters.crypto.keyring import Keyring
from adapters.postgres.pool import open_pool
from adapters.postgres.reencrypt import ReencryptError, key_usage, reencrypt
from adapters.postgres.unit_of_work import unit_of_work_factory
from application.ports import GatewayCallback
from tests.integration.test_cli import PAYMENTS, clean_env, serve
from tests.support.api import (
    ADMIN_KEY,
    CLIENT,
    CLIENT_KEY,
    ENCRYPTION_KEYS,
    WEBHOOK_SECRETS,
    deposit,
    serve_api,
    settle_directly,
    withdraw,
)
from tests.support.server import free_port

OLD = ENCRYPTION_KEYS  # the "it" key every test server starts with
NEW = Keyring.new_key_spec("new")
T = TypeVar("T")


def run(factory: Callable[[Any], Coroutine[Any, Any, T]], database_url: str) -> T:
    """Run ``factory(pool)`` on its own loop and pool (the test servers own theirs)."""

    async def main() -> T:
        pool = await open_pool(database_url, min_size=1, max_size=4)
        try:
            return await factory(pool)
        finally:
            await pool.close()

    return asyncio.run(main())


def usage(database_url: str) -> dict[str, int]:
    return run(key_usage, database_url)


def rotate(database_url: str, keys: str, **kwargs: Any) -> int:
    return run(lambda pool: reencrypt(pool, Keyring.parse(keys), **kwargs), database_url)


def seed_inbox(database_url: str, keys: str, count: int, prefix: str = "evt") -> None:
    """Store ``count`` callbacks through the real inbox adapter, in one transaction."""

    async def add(pool: Any) -> None:
        async with unit_of_work_factory(pool, Keyring.parse(keys))() as uow:
            for n in range(count):
                callback = GatewayCallback("paypal", f"{prefix}-{n}", "tx", "completed", None, "")
                await uow.inbox.add(callback, b'{"payer": "Ada Lovelace"}')
            await uow.commit()

    run(add, database_url)


def inbox_bodies(database_url: str, keys: str) -> list[bytes]:
    """Every stored callback body, decrypted the way the service reads them."""
    from adapters.postgres.inbox import inbox_aad

    keyring = Keyring.parse(keys)
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT gateway_id, event_id, body_enc FROM callback_inbox").fetchall()
    return [keyring.decrypt(body, inbox_aad(gw, event)) for gw, event, body in rows]


def wait_for_inbox(database_url: str, at_least: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        with psycopg.connect(database_url) as conn:
            row = conn.execute("SELECT count(*) FROM callback_inbox").fetchone()
        if row is not None and row[0] >= at_least:
            return
        assert time.monotonic() < deadline, f"only {row} callbacks stored"
        time.sleep(0.1)


def payout_with_destination(api: httpx.Client, database_url: str, user_id: int) -> str:
    """A funded withdrawal with an (encrypted) destination; sandbox callbacks fill the inbox."""
    r = deposit(api, user_id, "100.00", "USD")
    assert r.status_code == 201, r.text
    settle_directly(database_url, r.json()["transaction_id"], "completed")
    r = withdraw(api, user_id, "10.00", "USD", destination={"iban": "DE89370400440532013000"})
    assert r.status_code == 201, r.text
    tx_id: str = r.json()["transaction_id"]
    return tx_id


def test_rotation_rewrites_everything_and_the_old_key_becomes_removable(
    demo_database_url: str,
) -> None:
    with serve_api(demo_database_url) as api:
        payouts = [payout_with_destination(api, demo_database_url, user) for user in (1, 2)]
        wait_for_inbox(demo_database_url, 2)
    before = usage(demo_database_url)
    assert set(before) == {"it"}
    stored = before["it"]
    assert stored >= 4  # two destinations, at least two callback bodies

    seen: list[tuple[int, int]] = []
    rewritten = rotate(
        demo_database_url,
        f"{NEW},{OLD}",
        batch_size=3,
        on_progress=lambda done, total: seen.append((done, total)),
    )

    assert rewritten == stored
    assert usage(demo_database_url) == {"new": stored}
    assert seen[0] == (0, stored)
    assert seen[-1] == (stored, stored)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert rotate(demo_database_url, f"{NEW},{OLD}") == 0  # idempotent

    # Reads work with both keys, and with the new key alone: the old one can go.
    for keys in (f"{NEW},{OLD}", NEW):
        with serve_api(demo_database_url, PAYMENTS_ENCRYPTION_KEYS=keys) as api:
            for tx_id in payouts:
                got = api.get(f"/transactions/{tx_id}", headers=CLIENT)
                assert got.status_code == 200, got.text
                assert "DE89" not in got.text  # still never returned
    assert len(inbox_bodies(demo_database_url, NEW)) == stored - len(payouts)
    # Nothing under the old key remains readable with the old key alone.
    with serve_api(demo_database_url, PAYMENTS_ENCRYPTION_KEYS=OLD) as api:
        assert api.get(f"/transactions/{payouts[0]}", headers=CLIENT).status_code != 200


def test_service_writes_during_rotation_are_kept_and_end_up_under_the_new_key(
    demo_database_url: str,
) -> None:
    seed_inbox(demo_database_url, OLD, 600)
    # The service already runs with the new key first (deployed before the rotation).
    with serve_api(demo_database_url, PAYMENTS_ENCRYPTION_KEYS=f"{NEW},{OLD}") as api:
        stop = threading.Event()
        created: list[str] = []
        failures: list[str] = []

        def traffic() -> None:
            user = 1
            while not stop.is_set():
                r = deposit(api, user, "1.00", "USD")
                if r.status_code == 201:
                    created.append(r.json()["transaction_id"])
                else:
                    failures.append(r.text)
                user = user % 3 + 1

        writer = threading.Thread(target=traffic)
        writer.start()
        try:
            rewritten = rotate(demo_database_url, f"{NEW},{OLD}", batch_size=50)
        finally:
            stop.set()
            writer.join(timeout=30)
        assert failures == []
        assert created, "no request ran during the rotation"
        for tx_id in created:
            assert api.get(f"/transactions/{tx_id}", headers=CLIENT).status_code == 200
    assert rewritten == 600
    assert set(usage(demo_database_url)) == {"new"}
    bodies = inbox_bodies(demo_database_url, NEW)
    assert bodies.count(b'{"payer": "Ada Lovelace"}') == 600


def test_key_ids_with_like_wildcards_are_matched_literally(database_url: str) -> None:
    # Unescaped, the pattern for "k_1" would also match "kx1" and skip its rows.
    lookalike = Keyring.new_key_spec("kx1")
    seed_inbox(database_url, lookalike, 5)
    assert rotate(database_url, f"{Keyring.new_key_spec('k_1')},{lookalike}") == 5
    assert usage(database_url) == {"k_1": 5}


def test_a_row_that_does_not_decrypt_stops_the_run_with_its_name(database_url: str) -> None:
    seed_inbox(database_url, OLD, 3)
    stranger = Keyring.new_key_spec("lost")
    seed_inbox(database_url, stranger, 1, prefix="orphan")
    with pytest.raises(ReencryptError, match=r"callback_inbox\.body_enc .*no key lost"):
        rotate(database_url, f"{NEW},{OLD}", batch_size=10)
    # The failing batch rolled back: nothing is half-written, and reads still work.
    assert usage(database_url) == {"it": 3, "lost": 1}
    assert len(inbox_bodies(database_url, f"{NEW},{OLD},{stranger}")) == 4


def test_nothing_stored_means_nothing_to_do(database_url: str) -> None:
    assert usage(database_url) == {}
    assert rotate(database_url, NEW) == 0


def production_env(database_url: str, keys: str) -> dict[str, str]:
    return clean_env(
        PAYMENTS_DATABASE_URL=database_url,
        PAYMENTS_ENCRYPTION_KEYS=keys,
        PAYMENTS_API_KEYS=CLIENT_KEY,
        PAYMENTS_ADMIN_API_KEYS=ADMIN_KEY,
        **{f"PAYMENTS_WEBHOOK_SECRET_{g.upper()}": v for g, v in WEBHOOK_SECRETS.items()},
    )


def keys_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PAYMENTS, "keys", *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_production_rotate_status_and_retire_through_the_cli(database_url: str) -> None:
    seed_inbox(database_url, OLD, 7)
    env = production_env(database_url, f"{NEW},{OLD}")

    status = keys_cli(env, "status")
    assert status.returncode == 0, status.stderr
    assert "primary key: new" in status.stdout
    assert "  it: 7" in status.stdout
    assert "removable keys: none" in status.stdout

    refused = keys_cli(env, "retire", "it")
    assert refused.returncode == 1
    assert "7 ciphertext(s) still use it" in refused.stderr

    rotated = keys_cli(env, "rotate", "--batch-size", "2")
    assert rotated.returncode == 0, rotated.stderr
    assert "re-encrypted: 7 ciphertext(s)" in rotated.stdout
    assert "  new: 7" in rotated.stdout
    assert "removable keys: it (drop from PAYMENTS_ENCRYPTION_KEYS)" in rotated.stdout
    assert usage(database_url) == {"new": 7}

    safe = keys_cli(env, "retire", "it")
    assert safe.returncode == 0, safe.stderr
    assert "safe: no ciphertext uses it" in safe.stdout
    assert keys_cli(env, "retire", "new").returncode == 1  # never the primary

    # Configured without the key the rows need: status raises the alarm.
    danger = keys_cli(production_env(database_url, OLD), "status")
    assert danger.returncode == 1
    assert "DANGER" in danger.stdout
    assert "new (7)" in danger.stdout

    with psycopg.connect(database_url) as conn:
        has_audit = conn.execute("SELECT to_regclass('audit_log') IS NOT NULL").fetchone()
        if has_audit and has_audit[0]:
            rows = conn.execute(
                "SELECT actor, action, subject_type, subject_id, details FROM audit_log"
                " WHERE action = 'keys.rotate'"
            ).fetchall()
            assert rows == [
                ("cli", "keys.rotate", "keyring", "new", {"rewritten": 7, "from": ["it"]})
            ]


def test_rotate_refuses_when_rows_use_a_key_it_does_not_have(database_url: str) -> None:
    seed_inbox(database_url, OLD, 2)
    refused = keys_cli(production_env(database_url, NEW), "rotate")
    assert refused.returncode == 1
    assert "not in PAYMENTS_ENCRYPTION_KEYS" in refused.stderr
    assert usage(database_url) == {"it": 2}


@pytest.mark.parametrize("action", [[], ["rotate"], ["status"], ["generate"], ["retire"]])
def test_every_keys_action_answers_help(action: list[str]) -> None:
    out = subprocess.run(
        [*PAYMENTS, "keys", *action, "--help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert "usage: payments keys" in out.stdout


def test_generate_prints_a_usable_key_spec() -> None:
    out = subprocess.run(
        [*PAYMENTS, "keys", "generate", "--id", "k2026"],
        env=clean_env(),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    spec = out.stdout.strip()
    assert spec.startswith("k2026:")
    assert Keyring.parse(spec).primary_key_id == "k2026"


def test_embedded_rotation_while_serve_keeps_running(tmp_path: Path) -> None:
    """The embedded default end to end: a `serve` started before the rotation keeps reading."""
    data_dir = tmp_path / "data"
    env = clean_env(PAYMENTS_DATA_DIR=str(data_dir))
    port = free_port()
    with serve(data_dir, port) as base:
        secrets = json.loads((data_dir / "secrets.json").read_text())
        headers = {"Authorization": f"Bearer {secrets['api_keys'][0]}"}

        def completed_deposit() -> None:
            r = httpx.post(
                f"{base}/deposit",
                json={"user_id": 1, "amount": "50.00", "currency": "USD"},
                headers=headers,
                timeout=10,
            )
            assert r.status_code == 201, r.text
            deadline = time.monotonic() + 10
            tx = r.json()["transaction_id"]
            while httpx.get(f"{base}/transactions/{tx}", headers=headers).json()["status"] != (
                "completed"
            ):
                assert time.monotonic() < deadline, "the deposit never completed"
                time.sleep(0.1)

        completed_deposit()  # its callback body is stored under k1
        payout = httpx.post(
            f"{base}/withdrawal",
            json={
                "user_id": 1,
                "amount": "5.00",
                "currency": "USD",
                "destination": {"iban": "DE89370400440532013000"},
            },
            headers=headers,
            timeout=10,
        )
        assert payout.status_code == 201, payout.text
        payout_id = payout.json()["transaction_id"]

        status = keys_cli(env, "status")
        assert status.returncode == 0, status.stderr
        assert "primary key: k1" in status.stdout

        rotated = keys_cli(env, "rotate")
        assert rotated.returncode == 0, rotated.stderr
        new_id = json.loads((data_dir / "secrets.json").read_text())["encryption_keys"]
        new_id = new_id.partition(":")[0]
        assert new_id != "k1"
        assert f"primary key: {new_id}" in rotated.stdout
        assert "removable keys: k1 (`payments keys retire KEY_ID`)" in rotated.stdout

        # The running server never restarted: it reloads secrets.json on the new key id.
        got = httpx.get(f"{base}/transactions/{payout_id}", headers=headers, timeout=10)
        assert got.status_code == 200, got.text

        retired = keys_cli(env, "retire", "k1")
        assert retired.returncode == 0, retired.stderr
        assert keys_cli(env, "retire", new_id).returncode == 1  # never the primary
        stored = Keyring.parse(
            json.loads((data_dir / "secrets.json").read_text())["encryption_keys"]
        )
        assert stored.key_ids == [new_id]
        assert oct((data_dir / "secrets.json").stat().st_mode & 0o777) == "0o600"

        # New writes on the old server use the new primary.
        completed_deposit()
        assert httpx.get(f"{base}/transactions/{payout_id}", headers=headers).status_code == 200
        after = keys_cli(env, "status")
        assert after.returncode == 0, after.stderr
        assert "  k1:" not in after.stdout
        assert f"  {new_id}: " in after.stdout
        assert "removable keys: none" in after.stdout
