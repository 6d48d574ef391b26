"""What one run of the checker found."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken invariant, named as in ``INVARIANTS``."""

    invariant: str
    detail: str
    transaction_id: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        return {
            "invariant": self.invariant,
            "detail": self.detail,
            "transaction_id": self.transaction_id,
        }


@dataclass(frozen=True, slots=True)
class CheckReport:
    """What was checked and what failed; ``ok`` only when nothing did."""

    violations: tuple[Violation, ...]
    counts: Mapping[str, int]  # what was looked at: transactions, journals, events...
    invariants: tuple[str, ...]  # the invariants that were checked
    skipped: tuple[str, ...] = ()  # sources not consulted, with the reason

    @property
    def ok(self) -> bool:
        return not self.violations

    def failed(self) -> dict[str, int]:
        """Violations per invariant name."""
        out: dict[str, int] = defaultdict(int)
        for violation in self.violations:
            out[violation.invariant] += 1
        return dict(out)

    def to_dict(self) -> dict[str, Any]:
        failed = self.failed()
        return {
            "ok": self.ok,
            "invariants": {name: failed.get(name, 0) for name in self.invariants},
            "violations": [v.to_dict() for v in self.violations],
            "counts": dict(self.counts),
            "skipped": list(self.skipped),
        }
