"""IdempotencyStore contract: claim, replay, in flight, mismatch, leases, on both adapters."""

from __future__ import annotations

import asyncio
import uuid

from application.ports import Claim, KeyClaim, StoredResponse
from tests.support.port_contracts import Backend

RESPONSE = StoredResponse(201, "application/json", b'{"transaction_id": "t"}')
TTL_S = 3600
LEASE_S = 30.0
SHORT_LEASE_S = 0.05


async def claim(
    backend: Backend,
    key: str,
    *,
    fingerprint: str = "fp",
    owner: str = "req-1",
    tx_id: str = "",
    lease_s: float = LEASE_S,
    ttl_s: int = TTL_S,
) -> Claim:
    return await backend.idempotency.claim(
        KeyClaim(
            "merchant-1",
            key,
            fingerprint,
            ttl_s,
            owner=owner,
            transaction_id=tx_id or str(uuid.uuid4()),
            lease_s=lease_s,
        )
    )


async def test_a_new_key_is_ours_with_the_transaction_id_reserved(backend: Backend) -> None:
    tx_id = str(uuid.uuid4())
    assert await claim(backend, "k1", tx_id=tx_id) == Claim("new", transaction_id=tx_id)


async def test_a_key_held_by_a_live_request_is_in_flight(backend: Backend) -> None:
    await claim(backend, "k1")
    assert await claim(backend, "k1", owner="req-2") == Claim("in_flight")


async def test_a_completed_key_replays_its_response(backend: Backend) -> None:
    await claim(backend, "k1")
    await backend.idempotency.complete("merchant-1", "k1", "req-1", RESPONSE)
    assert await claim(backend, "k1", owner="req-2") == Claim("replay", RESPONSE)


async def test_another_request_under_the_same_key_is_a_mismatch(backend: Backend) -> None:
    await claim(backend, "k1")
    assert await claim(backend, "k1", fingerprint="other", owner="req-2") == Claim("mismatch")
    await backend.idempotency.complete("merchant-1", "k1", "req-1", RESPONSE)
    assert await claim(backend, "k1", fingerprint="other", owner="req-2") == Claim("mismatch")


async def test_keys_are_scoped(backend: Backend) -> None:
    await claim(backend, "k1")
    other = await backend.idempotency.claim(
        KeyClaim("merchant-2", "k1", "fp", TTL_S, "req-2", str(uuid.uuid4()), LEASE_S)
    )
    assert other.outcome == "new"


async def test_a_lapsed_lease_is_taken_over_keeping_the_transaction_id(backend: Backend) -> None:
    tx_id = str(uuid.uuid4())
    await claim(backend, "k1", tx_id=tx_id, lease_s=SHORT_LEASE_S)
    await asyncio.sleep(SHORT_LEASE_S * 4)
    taken = await claim(backend, "k1", owner="req-2")
    assert taken == Claim("abandoned", transaction_id=tx_id)
    # The first request lost the key: it can neither renew nor complete it.
    assert not await backend.idempotency.renew("merchant-1", "k1", "req-1", LEASE_S)
    await backend.idempotency.complete("merchant-1", "k1", "req-1", RESPONSE)
    assert await claim(backend, "k1", owner="req-3") == Claim("in_flight")
    await backend.idempotency.complete("merchant-1", "k1", "req-2", RESPONSE)
    assert await claim(backend, "k1", owner="req-3") == Claim("replay", RESPONSE)


async def test_a_renewed_lease_stays_in_flight(backend: Backend) -> None:
    await claim(backend, "k1", lease_s=SHORT_LEASE_S)
    assert await backend.idempotency.renew("merchant-1", "k1", "req-1", LEASE_S)
    await asyncio.sleep(SHORT_LEASE_S * 4)
    assert await claim(backend, "k1", owner="req-2") == Claim("in_flight")
    assert not await backend.idempotency.renew("merchant-1", "k1", "req-2", LEASE_S)


async def test_an_abandoned_key_is_taken_over_at_once(backend: Backend) -> None:
    tx_id = str(uuid.uuid4())
    await claim(backend, "k1", tx_id=tx_id)
    await backend.idempotency.abandon("merchant-1", "k1", "req-2")  # not its owner: no effect
    assert await claim(backend, "k1", owner="req-2") == Claim("in_flight")
    await backend.idempotency.abandon("merchant-1", "k1", "req-1")
    await asyncio.sleep(0.01)
    assert await claim(backend, "k1", owner="req-2") == Claim("abandoned", transaction_id=tx_id)


async def test_a_released_key_is_forgotten(backend: Backend) -> None:
    await claim(backend, "k1")
    await backend.idempotency.release("merchant-1", "k1", "req-2")  # not its owner: kept
    assert await claim(backend, "k1", owner="req-2") == Claim("in_flight")
    await backend.idempotency.release("merchant-1", "k1", "req-1")
    assert (await claim(backend, "k1", fingerprint="other", owner="req-2")).outcome == "new"


async def test_a_completed_key_cannot_be_released(backend: Backend) -> None:
    await claim(backend, "k1")
    await backend.idempotency.complete("merchant-1", "k1", "req-1", RESPONSE)
    await backend.idempotency.release("merchant-1", "k1", "req-1")
    assert await claim(backend, "k1", owner="req-2") == Claim("replay", RESPONSE)


async def test_expired_keys_are_reused_and_purged(backend: Backend) -> None:
    await claim(backend, "old", ttl_s=1)
    await claim(backend, "reused", ttl_s=1)
    await claim(backend, "live")
    await asyncio.sleep(1.2)
    assert (await claim(backend, "reused", fingerprint="other", owner="req-2")).outcome == "new"
    assert await backend.idempotency.purge_expired() == 1
    assert await claim(backend, "live", owner="req-2") == Claim("in_flight")
