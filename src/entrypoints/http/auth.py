"""API-key authentication: ``Authorization: Bearer <key>`` with client and admin roles.

Only SHA-256 digests of the keys are kept in memory, and lookups go through
``hmac.compare_digest`` so timing does not reveal how much of a key matched.
"""

from __future__ import annotations

import hashlib
import hmac
from enum import StrEnum
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from application.log_context import set_actor


class Role(StrEnum):
    CLIENT = "client"
    ADMIN = "admin"


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


class ApiKeys:
    def __init__(self, client_keys: tuple[str, ...], admin_keys: tuple[str, ...]) -> None:
        self._digests: list[tuple[bytes, Role]] = [(_digest(k), Role.CLIENT) for k in client_keys]
        self._digests += [(_digest(k), Role.ADMIN) for k in admin_keys]

    def role_of(self, key: str) -> Role | None:
        digest = _digest(key)
        found: Role | None = None
        for known, role in self._digests:  # no early exit: constant work per request
            if hmac.compare_digest(known, digest):
                found = role
        return found


def bearer_key(header: str) -> str | None:
    """The key of an ``Authorization: Bearer <key>`` header, or None."""
    scheme, _, key = header.partition(" ")
    return key.strip() or None if scheme.lower() == "bearer" else None


def _role(connection: ASGIConnection[Any, Any, Any, Any]) -> Role:
    key = bearer_key(connection.headers.get("authorization", ""))
    if key is None:
        raise NotAuthorizedException("missing API key: send 'Authorization: Bearer <key>'")
    keys: ApiKeys = connection.app.state["api_keys"]
    role = keys.role_of(key)
    if role is None:
        raise NotAuthorizedException("unknown API key")
    # Who is acting, for the audit trail and logs: the role and a short digest
    # of the key (enough to tell keys apart, useless to an attacker).
    set_actor(f"{role.value}:{_digest(key).hex()[:10]}")
    return role


# Guards are async on purpose: a sync guard may run in a worker thread, and
# the actor bound there (a context variable) would not reach the handler.
async def client_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Client or admin keys pass."""
    _role(connection)


async def admin_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Only admin keys pass; a client key gets 403."""
    if _role(connection) is not Role.ADMIN:
        raise PermissionDeniedException("this operation needs an admin API key")
