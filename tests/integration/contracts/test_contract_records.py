"""AuditLog and IssueLog contracts: what is kept for humans, on both adapters."""

from __future__ import annotations

from application.log_context import bind_actor
from tests.support.port_contracts import NOW, SECOND, Backend, new_tx, store


async def test_audit_entries_are_kept_per_subject_oldest_first(backend: Backend) -> None:
    async with backend.uow() as unit:
        await unit.audit.record("admin:1", "gateway.down", "gateway", "paypal", {"why": "x"})
        await unit.audit.record("admin:2", "gateway.up", "gateway", "paypal", {})
        await unit.audit.record("admin:1", "gateway.down", "gateway", "stripe", {})
        await unit.commit()
    async with backend.uow() as unit:
        await unit.audit.record("admin:3", "gateway.down", "gateway", "paypal", {})
    async with backend.uow() as unit:
        history = await unit.audit.history("gateway", "paypal")
        assert await unit.audit.history("gateway", "adyen") == []
    assert [(e.actor, e.action, e.details) for e in history] == [
        ("admin:1", "gateway.down", {"why": "x"}),
        ("admin:2", "gateway.up", {}),
    ]
    assert history[0].occurred_at <= history[1].occurred_at


async def test_a_transaction_change_is_audited_with_its_actor(backend: Backend) -> None:
    tx = new_tx()
    with bind_actor("client:merchant-1"):
        await store(backend, tx)
    tx.fail(message="refused", now=NOW + SECOND)
    await store(backend, tx)
    async with backend.uow() as unit:
        history = await unit.audit.history("transaction", tx.id)
    assert [e.actor for e in history] == ["client:merchant-1", "system"]


async def test_an_issue_is_flagged_once_per_transaction_gateway_and_kind(backend: Backend) -> None:
    a, b = new_tx(), new_tx()
    async with backend.uow() as unit:
        await unit.issues.flag(a.id, "paypal", "amount_mismatch", "first")
        await unit.issues.flag(b.id, "paypal", "amount_mismatch", "other tx")
        await unit.commit()
    async with backend.uow() as unit:
        await unit.issues.flag(a.id, "paypal", "amount_mismatch", "again")
        await unit.issues.flag(a.id, "stripe", "amount_mismatch", "other gateway")
        await unit.commit()
    async with backend.uow() as unit:
        issues = await unit.issues.list(open_only=True, limit=10)
        assert len(await unit.issues.list(open_only=False, limit=2)) == 2
    assert [(i.transaction_id, i.gateway_id, i.detail) for i in issues] == [
        (a.id, "stripe", "other gateway"),
        (b.id, "paypal", "other tx"),
        (a.id, "paypal", "first"),
    ]
    assert all(i.resolved_at is None for i in issues)


async def test_issues_without_a_gateway_are_each_kept(backend: Backend) -> None:
    # The table's UNIQUE (transaction_id, gateway_id, kind) treats NULLs as
    # distinct, so a finding without a gateway is recorded every time.
    tx = new_tx()
    for detail in ("first", "second"):
        async with backend.uow() as unit:
            await unit.issues.flag(tx.id, None, "orphan_callback", detail)
            await unit.commit()
    async with backend.uow() as unit:
        issues = await unit.issues.list(open_only=True, limit=10)
    assert [(i.gateway_id, i.detail) for i in issues] == [(None, "second"), (None, "first")]
