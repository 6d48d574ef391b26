"""Integer path and query parameters, read as ASCII digits only (CONTRACT.md "Strict input").

Litestar reads a `{user_id:int}` path segment with int(), which also takes
"+1", " 1", "1_0" and any script's digits, so `/users/%D9%A1/balances` was
user 1; an `int` query parameter goes through msgspec's lax conversion, which
takes "1e1" and "5.0". Such parameters are therefore declared as strings,
documented as the integers they are (`integer_schema`), and read by `digits`.
"""

from __future__ import annotations

import re
from typing import Any

from litestar.exceptions import ValidationException
from litestar.openapi.spec import OpenAPIType, Schema

MAX_ID = 2**63 - 1
# `[0-9]`, not `\d` or str.isdigit(): those take Unicode digits too.
_DIGITS = re.compile(r"[0-9]{1,19}")


def digits(value: str, name: str, *, minimum: int = 1, maximum: int = MAX_ID) -> int:
    """`value` as an integer in [minimum, maximum] if it is only ASCII digits; else a 400."""
    if _DIGITS.fullmatch(value) and minimum <= (number := int(value)) <= maximum:
        return number
    raise ValidationException(
        detail=f"{name} must be ASCII digits for a whole number from {minimum} to {maximum}, "
        f"got {value[:30]!a}",
        extra=[{"message": "not ASCII digits in range", "key": name}],
    )


def optional_digits(value: str | None, name: str, *, maximum: int = MAX_ID) -> int | None:
    """`digits` for an optional query parameter (None when absent)."""
    return None if value is None else digits(value, name, maximum=maximum)


def integer_schema(maximum: int = MAX_ID, **more: Any) -> dict[str, Any]:
    """`schema_extra` that documents a string parameter read by `digits` as an integer."""
    return {"type": OpenAPIType.INTEGER, "minimum": 1, "maximum": maximum, **more}


def optional_integer_schema(maximum: int = MAX_ID) -> dict[str, Any]:
    """`integer_schema` for an optional query parameter (integer or absent)."""
    integer = Schema(type=OpenAPIType.INTEGER, minimum=1, maximum=maximum)
    return {"one_of": [integer, Schema(type=OpenAPIType.NULL)]}
