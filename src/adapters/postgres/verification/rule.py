"""What a SQL rule is: a query returning offending rows, and how to name each one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from application.verification.report import Violation

Row = tuple[Any, ...]
Rule = tuple[str, Callable[[Row], Violation]]
