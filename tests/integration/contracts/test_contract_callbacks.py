"""CallbackInbox and EventOutbox contracts: dedupe, retries, backlog, ordering."""

from __future__ import annotations

from application.ports import GatewayCallback, InboxState
from tests.support.port_contracts import NOW, SECOND, Backend, new_tx, store


def callback(event_id: str, transaction_id: str = "tx-1") -> GatewayCallback:
    return GatewayCallback("paypal", event_id, transaction_id, "completed", "PP-1", "paid")


async def receive(backend: Backend, *callbacks: GatewayCallback) -> list[bool]:
    async with backend.uow() as unit:
        added = [await unit.inbox.add(c, b'{"raw": true}') for c in callbacks]
        await unit.commit()
    return added


async def test_a_callback_is_received_once_per_gateway_and_event_id(backend: Backend) -> None:
    assert await receive(backend, callback("evt-1"), callback("evt-2")) == [True, True]
    assert await receive(backend, callback("evt-1")) == [False]
    other_gateway = GatewayCallback("stripe", "evt-1", "tx-1", "completed", None, "paid")
    assert await receive(backend, other_gateway) == [True]


async def test_an_uncommitted_callback_is_not_kept(backend: Backend) -> None:
    async with backend.uow() as unit:
        assert await unit.inbox.add(callback("evt-1"), b"{}")
    assert await receive(backend, callback("evt-1")) == [True]


async def test_lock_reports_the_state_of_known_callbacks(backend: Backend) -> None:
    await receive(backend, callback("evt-1"), callback("evt-2"))
    async with backend.uow() as unit:
        await unit.inbox.resolve("paypal", "evt-2", "applied", "completed")
        await unit.commit()
    async with backend.uow() as unit:
        states = await unit.inbox.lock([("paypal", "evt-1"), ("paypal", "evt-2"), ("x", "y")])
        assert await unit.inbox.lock([]) == {}
    assert states == {
        ("paypal", "evt-1"): InboxState("received", 0),
        ("paypal", "evt-2"): InboxState("applied", 0),
    }


async def test_failed_applies_are_retried_oldest_first_then_quarantined(backend: Backend) -> None:
    await receive(backend, callback("evt-1"), callback("evt-2"), callback("evt-3"))
    async with backend.uow() as unit:
        await unit.inbox.record_failure("paypal", "evt-2", "boom", NOW + 2 * SECOND)
        await unit.inbox.record_failure("paypal", "evt-1", "boom", NOW + 5 * SECOND)
        await unit.inbox.record_failure("paypal", "evt-3", "gave up", None)
        await unit.commit()
    async with backend.uow() as unit:
        due = await unit.inbox.due_for_retry(NOW + 10 * SECOND, 10)
        early = await unit.inbox.due_for_retry(NOW + 3 * SECOND, 10)
        one = await unit.inbox.due_for_retry(NOW + 10 * SECOND, 1)
        states = await unit.inbox.lock([("paypal", "evt-2"), ("paypal", "evt-3")])
        backlog = await unit.inbox.backlog()
    assert [c.event_id for c in due] == ["evt-2", "evt-1"]
    assert due[0] == callback("evt-2")
    assert [c.event_id for c in early] == ["evt-2"]
    assert [c.event_id for c in one] == ["evt-2"]
    assert states == {
        ("paypal", "evt-2"): InboxState("received", 1),
        ("paypal", "evt-3"): InboxState("quarantined", 1),
    }
    assert backlog.unapplied == 2


async def test_a_resolved_callback_is_no_longer_due_nor_in_the_backlog(backend: Backend) -> None:
    await receive(backend, callback("evt-1"))
    async with backend.uow() as unit:
        await unit.inbox.record_failure("paypal", "evt-1", "boom", NOW)
        await unit.commit()
    async with backend.uow() as unit:
        await unit.inbox.resolve("paypal", "evt-1", "applied", "completed")
        await unit.commit()
    async with backend.uow() as unit:
        assert await unit.inbox.due_for_retry(NOW + SECOND, 10) == []
        backlog = await unit.inbox.backlog()
    assert (backlog.unapplied, backlog.oldest_s) == (0, 0.0)


async def test_the_backlog_counts_what_is_not_applied_yet(backend: Backend) -> None:
    await receive(backend, callback("evt-1"), callback("evt-2"))
    async with backend.uow() as unit:
        backlog = await unit.inbox.backlog()
    assert backlog.unapplied == 2
    assert 0.0 <= backlog.oldest_s < 60.0


async def test_the_outbox_keeps_what_was_committed_in_order(backend: Backend) -> None:
    first, second = new_tx(), new_tx()
    await store(backend, first)
    async with backend.uow() as unit:
        await unit.outbox.put_callback(callback("evt-1", first.id))
        await unit.transactions.add(second)
        await unit.outbox.put_callback(callback("evt-2", first.id))
        await unit.commit()
    async with backend.uow() as unit:  # rolled back: nothing of it is kept
        await unit.outbox.put_callback(callback("evt-3", first.id))
        loaded = await unit.transactions.get(first.id)
        assert loaded is not None
        loaded.fail(message="no", now=NOW + SECOND)
    assert await backend.outbox() == [
        ("transaction.created", first.id),
        ("transaction.created", second.id),
        ("callback", "evt-1"),
        ("callback", "evt-2"),
    ]
