"""Users are the trading platform's account holders; we only need their country."""

from __future__ import annotations

import re
from dataclasses import dataclass

from domain.errors import InvalidInput

_COUNTRY = re.compile(r"^[A-Z]{2}$")


@dataclass(frozen=True, slots=True)
class CountryCode:
    """An ISO 3166-1 alpha-2 country code."""

    value: str

    def __post_init__(self) -> None:
        if not isinstance(self.value, str) or not _COUNTRY.match(self.value):
            raise InvalidInput(f"country must be two upper-case letters, got {self.value!r}")


@dataclass(frozen=True, slots=True)
class User:
    id: int
    country: CountryCode

    def __post_init__(self) -> None:
        if isinstance(self.id, bool) or not isinstance(self.id, int) or not 0 < self.id < 2**63:
            raise InvalidInput("user_id must be a positive integer")
