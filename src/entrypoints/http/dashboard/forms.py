"""Query strings and submitted forms, read as plain text and validated here.

A bad value must become a readable message on the page (``BadInput``), not
Litestar's JSON 400 or a 500.
"""

from __future__ import annotations

import re
from typing import Any

from litestar import Request
from litestar.exceptions import PermissionDeniedException

from domain.routing import Priority
from domain.transaction import TransactionStatus
from entrypoints.http.dashboard.guard import current_operator

MAX_USER_ID = 2**63 - 1
MAX_PRIORITY = 1000
MAX_CURSOR = 200
COUNTRY_RE = re.compile(r"^[A-Z]{2}$")
BACK_TO_RE = re.compile(r"/dashboard(/[A-Za-z0-9/_.~%=&?#-]*)?")
GATEWAY_RE = re.compile(r"^[a-z0-9_-]{1,32}$")
STATUSES = tuple(s.value for s in TransactionStatus)
SWITCHES = ("up", "down")


class BadInput(Exception):
    """A query or form value the page cannot use; shown on the page, status 400."""


def field(form: Any, name: str) -> str:
    """A text field of a submitted form ('' when absent or a file)."""
    value = form.get(name)
    return value if isinstance(value, str) else ""


async def checked_form(request: Request[Any, Any, Any]) -> Any:
    """The submitted form, once its CSRF token matches the session's."""
    form = await request.form()
    if not current_operator(request).csrf_ok(field(form, "csrf_token") or None):
        raise PermissionDeniedException("the form has expired: reload the page and try again")
    return form


def back_to(value: str, default: str) -> str:
    """A redirect target from a form: only our own dashboard pages.

    A path under /dashboard in plain URL characters: never another host (open
    redirect), never a line break (header injection).
    """
    return value if BACK_TO_RE.fullmatch(value) and len(value) <= 300 else default


def user_id(raw: str | None) -> int | None:
    if raw is None or not raw.strip():
        return None
    text = raw.strip()
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_USER_ID:
        raise BadInput(f"user id must be a whole number from 1 to {MAX_USER_ID}, not {text!r}")
    return int(text)


def country(raw: str | None) -> str | None:
    if raw is None or not raw.strip():
        return None
    code = raw.strip().upper()
    if not COUNTRY_RE.match(code):
        raise BadInput(f"a country is a two-letter code such as GB, not {raw.strip()!r}")
    return code


def transaction_status(raw: str) -> str | None:
    """A status filter: one of the transaction statuses, or none ('')."""
    if raw and raw not in STATUSES:
        raise BadInput(f"status must be one of {', '.join(STATUSES)}")
    return raw or None


def page_cursor(raw: str | None) -> str | None:
    """The opaque "next page" cursor of a page link (the use case checks its content)."""
    if raw is not None and len(raw) > MAX_CURSOR:
        raise BadInput("the page link is not valid")
    return raw


def gateway_switch(gateway_id: str, status: str) -> str:
    """The up/down switch posted for a gateway."""
    if not GATEWAY_RE.match(gateway_id) or status not in SWITCHES:
        raise BadInput("Choose a gateway and 'up' or 'down'.")
    return status


def routing_change(form: Any, current: list[Priority]) -> list[Priority]:
    """The country's new list: one gateway moved (``up:<id>``, ``down:<id>``) or typed numbers."""
    action = field(form, "action")
    direction, _, gateway_id = action.partition(":")
    if direction in ("up", "down") and gateway_id:
        return swap(current, gateway_id, direction)
    if action == "save":
        return typed_priorities(form, current)
    raise BadInput("unknown action")


def swap(entries: list[Priority], gateway_id: str, direction: str) -> list[Priority]:
    """Move one gateway a place up or down by swapping priority numbers with its neighbour.

    Swapping keeps the operator's numbering (10, 20, 30 stays so) instead of
    renumbering the whole list.
    """
    ordered = sorted(entries, key=lambda e: (e.priority, e.gateway_id))
    ids = [e.gateway_id for e in ordered]
    if gateway_id not in ids:
        raise BadInput(f"gateway {gateway_id} is not in this country's list")
    i = ids.index(gateway_id)
    j = i - 1 if direction == "up" else i + 1
    if not 0 <= j < len(ordered):
        return ordered
    a, b = ordered[i], ordered[j]
    ordered[i] = Priority(a.gateway_id, b.priority)
    ordered[j] = Priority(b.gateway_id, a.priority)
    return ordered


def typed_priorities(form: Any, current: list[Priority]) -> list[Priority]:
    """The numbers typed for the country's current gateways (no others can be added)."""
    entries = []
    for e in current:
        raw = field(form, f"priority.{e.gateway_id}").strip()
        if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_PRIORITY:
            raise BadInput(
                f"priority of {e.gateway_id} must be a whole number from 1 to {MAX_PRIORITY}"
            )
        entries.append(Priority(e.gateway_id, int(raw)))
    return entries
