"""Key rotation, status and retirement as use cases, over hand-written fakes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import pytest

from application.encryption_keys.retire import RetireKey, Retirement
from application.encryption_keys.rotate import KeysMissing, RotateKeys
from application.encryption_keys.status import GetKeyStatus
from application.ports import AuditEntry


class FakeKeys:
    def __init__(self, *key_ids: str, editable: bool = False) -> None:
        self.ids = list(key_ids)
        self.editable = editable
        self.where = "secrets.json" if editable else "PAYMENTS_ENCRYPTION_KEYS"

    def key_ids(self) -> list[str]:
        return list(self.ids)

    def add_primary(self) -> str:
        self.ids.insert(0, f"k{len(self.ids) + 1}")
        return self.ids[0]

    def retire(self, key_id: str) -> None:
        self.ids.remove(key_id)


class FakeCiphertexts:
    """Ciphertexts per key id; re-encryption moves them all under the keys' primary."""

    def __init__(self, keys: FakeKeys, counts: dict[str, int]) -> None:
        self.keys = keys
        self.counts = dict(counts)
        self.passes = 0

    async def key_usage(self) -> dict[str, int]:
        return dict(sorted((k, n) for k, n in self.counts.items() if n))

    async def reencrypt(
        self, *, batch_size: int, on_progress: Callable[[int, int], None] | None = None
    ) -> int:
        self.passes += 1
        primary = self.keys.key_ids()[0]
        moved = sum(n for k, n in self.counts.items() if k != primary)
        self.counts = {primary: sum(self.counts.values())}
        if on_progress is not None:
            on_progress(moved, moved)
        return moved


class FakeAuditLogs:
    def __init__(self, *, has_table: bool = True) -> None:
        self.has_table = has_table
        self.entries: list[tuple[str, str, str, str, dict[str, Any]]] = []

    @asynccontextmanager
    async def open(self) -> AsyncIterator[FakeAuditLogs | None]:
        yield self if self.has_table else None

    async def record(
        self, actor: str, action: str, subject_type: str, subject_id: str, details: dict[str, Any]
    ) -> None:
        self.entries.append((actor, action, subject_type, subject_id, details))

    async def history(self, subject_type: str, subject_id: str) -> list[AuditEntry]:
        return []


class RecordedProgress:
    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []

    def key_added(self, key_id: str) -> None:
        self.events.append(("added", key_id))

    @contextmanager
    def reencrypting(self, primary: str) -> Iterator[Callable[[int, int], None]]:
        self.events.append(("reencrypting", primary))
        yield lambda done, total: self.events.append(("progress", (done, total)))


def rotation(
    keys: FakeKeys, ciphertexts: FakeCiphertexts, audit: FakeAuditLogs | None = None
) -> tuple[RotateKeys, RecordedProgress]:
    progress = RecordedProgress()
    use_case = RotateKeys(ciphertexts, keys, audit or FakeAuditLogs(), progress, refresh_s=0.0)
    return use_case, progress


async def test_production_rotation_rewrites_under_the_first_key_and_is_audited() -> None:
    keys = FakeKeys("new", "old")
    ciphertexts = FakeCiphertexts(keys, {"old": 7})
    audit = FakeAuditLogs()
    use_case, progress = rotation(keys, ciphertexts, audit)

    report = await use_case.execute(batch_size=2, resume=False, actor="cli")

    assert report.rewritten == 7
    assert report.usage.counts == {"new": 7}
    assert report.usage.removable == ["old"]
    assert report.audited
    assert audit.entries == [
        ("cli", "keys.rotate", "keyring", "new", {"rewritten": 7, "from": ["old"]})
    ]
    assert progress.events == [("reencrypting", "new"), ("progress", (7, 7))]
    assert keys.key_ids() == ["new", "old"]  # the environment's keys are never changed


async def test_editable_keys_get_a_new_primary_and_a_second_sweep() -> None:
    keys = FakeKeys("k1", editable=True)
    ciphertexts = FakeCiphertexts(keys, {"k1": 3})
    use_case, progress = rotation(keys, ciphertexts)

    report = await use_case.execute(batch_size=200, resume=False, actor="cli")

    assert progress.events[0] == ("added", "k2")
    assert report.usage.primary == "k2"
    assert report.usage.counts == {"k2": 3}
    assert ciphertexts.passes == 2  # after the running processes' keyrings refreshed


async def test_resume_adds_no_key() -> None:
    keys = FakeKeys("k2", "k1", editable=True)
    use_case, progress = rotation(keys, FakeCiphertexts(keys, {"k1": 1, "k2": 1}))

    report = await use_case.execute(batch_size=200, resume=True, actor="cli")

    assert keys.key_ids() == ["k2", "k1"]
    assert ("added", "k2") not in progress.events
    assert report.usage.counts == {"k2": 2}


async def test_rotation_refuses_before_changing_anything_when_a_used_key_is_missing() -> None:
    keys = FakeKeys("k1", editable=True)
    ciphertexts = FakeCiphertexts(keys, {"lost": 2})
    audit = FakeAuditLogs()
    use_case, _ = rotation(keys, ciphertexts, audit)

    with pytest.raises(KeysMissing, match=r"key\(s\) lost not in secrets.json"):
        await use_case.execute(batch_size=200, resume=False, actor="cli")

    assert keys.key_ids() == ["k1"]
    assert ciphertexts.passes == 0
    assert audit.entries == []


async def test_without_an_audit_table_the_rotation_says_it_was_not_recorded() -> None:
    keys = FakeKeys("new", "old")
    use_case, _ = rotation(keys, FakeCiphertexts(keys, {"old": 1}), FakeAuditLogs(has_table=False))

    report = await use_case.execute(batch_size=200, resume=False, actor="cli")

    assert not report.audited


async def test_status_names_removable_and_missing_keys() -> None:
    keys = FakeKeys("new", "old", "spare")
    usage = await GetKeyStatus(FakeCiphertexts(keys, {"old": 2, "lost": 1}), keys).execute()
    assert usage.primary == "new"
    assert usage.removable == ["spare"]
    assert usage.missing == ["lost"]
    assert usage.not_primary == {"lost": 1, "old": 2}


@pytest.mark.parametrize(
    ("key_id", "editable", "outcome", "kept"),
    [
        ("new", True, Retirement.PRIMARY, ["new", "old", "spare"]),
        ("old", True, Retirement.IN_USE, ["new", "old", "spare"]),
        ("nope", True, Retirement.NOT_CONFIGURED, ["new", "old", "spare"]),
        ("spare", False, Retirement.SAFE_TO_DROP, ["new", "old", "spare"]),
        ("spare", True, Retirement.RETIRED, ["new", "old"]),
    ],
)
async def test_a_key_is_retired_only_when_unused_and_not_the_primary(
    key_id: str, editable: bool, outcome: Retirement, kept: list[str]
) -> None:
    keys = FakeKeys("new", "old", "spare", editable=editable)
    result = await RetireKey(FakeCiphertexts(keys, {"old": 4}), keys).execute(key_id)
    assert result.outcome is outcome
    assert keys.key_ids() == kept
    assert result.remaining == [k for k in ["new", "old", "spare"] if k != key_id]
    assert result.in_use == (4 if key_id == "old" else 0)
