"""Ports for the small things: the time and new identifiers."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class Clock(Protocol):
    """Current time, timezone-aware UTC."""

    def now(self) -> datetime:
        """Now."""


class IdGenerator(Protocol):
    """New identifiers, unique and roughly time-ordered."""

    def new_id(self) -> str:
        """A fresh id."""
