"""Idempotency-Key handling for POST /deposit and /withdrawal, as ASGI middleware.

It sits outside the handlers so that every answer — success, decline, any
problem — is captured exactly as sent, stored once, and replayed byte for
byte. The rules live in application/idempotency.py; leases (this request's,
and those of requests that died) in idempotency_lease.py.
"""

from __future__ import annotations

import uuid
from typing import Any

from litestar.middleware import DefineMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from application.idempotency import fingerprint, is_decision, reserving, scope_of, valid_key
from application.ports import Claim, IdempotencyStore, IdGenerator, KeyClaim, StoredResponse
from domain.errors import ServiceUnavailable
from entrypoints.http.auth import ApiKeys, bearer_key
from entrypoints.http.dependencies import resolve
from entrypoints.http.idempotency_asgi import (
    BAD_KEY,
    IN_USE,
    REUSED,
    TOO_LARGE,
    UNAVAILABLE,
    outcome_of,
    send_stored,
)
from entrypoints.http.idempotency_lease import Lease, answer_for_lost_key, current_state
from entrypoints.http.paths import is_payment
from entrypoints.http.raw import header, read_body, send_problem

HEADER = b"idempotency-key"


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp, *, ttl_s: int, max_body_bytes: int) -> None:
        self._app = app
        self._ttl_s = ttl_s
        self._max_body = max_body_bytes

    async def __call__(self, asgi_scope: Scope, asgi_receive: Receive, asgi_send: Send) -> None:
        # Raw ASGI messages below: typed loosely on purpose (plain dicts).
        scope: Any = asgi_scope
        receive: Any = asgi_receive
        send: Any = asgi_send
        if scope["type"] != "http" or scope["method"] != "POST" or not is_payment(scope["path"]):
            await self._app(scope, receive, send)
            return
        # First values, as the auth guard reads them: the key scoped here is the
        # one that was authenticated.
        raw_key = header(scope["headers"], HEADER)
        api_key = bearer_key((header(scope["headers"], b"authorization") or b"").decode("latin-1"))
        state = scope["app"].state
        keys: ApiKeys = state["api_keys"]
        if raw_key is None or api_key is None or keys.role_of(api_key) is None:
            # No key, or a caller the app will refuse anyway (401): nothing to remember.
            await self._app(scope, receive, send)
            return
        key = raw_key.decode("latin-1")
        if not valid_key(key):
            await send_problem(send, BAD_KEY)
            return
        read = await read_body(receive, self._max_body)
        if read.too_large:
            await send_problem(send, TOO_LARGE)
            return
        body = read.data
        container = state["container"]
        store: IdempotencyStore = await resolve(container.idempotency_store)
        ids: IdGenerator = await resolve(container.ids)
        lease = Lease(
            store, scope_of(api_key), key, uuid.uuid4().hex, state["settings"].idempotency_lease_s
        )
        try:
            claim = await store.claim(
                KeyClaim(
                    lease.scope,
                    key,
                    fingerprint("POST", scope["path"], body),
                    self._ttl_s,
                    owner=lease.owner,
                    transaction_id=ids.new_id(),  # used only if the key is new
                    lease_s=lease.seconds,
                )
            )
        except ServiceUnavailable:
            await send_problem(send, UNAVAILABLE)
            return
        if claim.outcome == "replay" and claim.response is not None:
            await send_stored(send, claim.response)
            return
        if claim.outcome in ("mismatch", "in_flight"):
            await send_problem(send, REUSED if claim.outcome == "mismatch" else IN_USE)
            return
        if claim.outcome == "abandoned" and await self._recovered(container, lease, claim, send):
            return
        await self._run_and_remember(scope, body, send, lease, claim)

    async def _recovered(self, container: Any, lease: Lease, claim: Claim, send: Any) -> bool:
        """A dead request held the key: answer with its transaction, if it created one."""
        assert claim.transaction_id is not None
        try:
            found = await current_state(container, claim.transaction_id)
        except ServiceUnavailable:
            await lease.end(keep=True)
            await send_problem(send, UNAVAILABLE)
            return True
        if found is None:
            return False  # never created: run the request, under the same id
        await answer_for_lost_key(lease, found)
        await send_stored(send, found[0])
        return True

    async def _run_and_remember(
        self, scope: Any, body: bytes, send: Any, lease: Lease, claim: Claim
    ) -> None:
        start: dict[str, Any] = {}
        chunks: list[bytes] = []
        delivered = False

        # Not raw.replay: the body has been read whole, and after it the app
        # hears a disconnect at once instead of waiting on the client.
        async def replay_body() -> dict[str, Any]:
            nonlocal delivered
            if delivered:
                return {"type": "http.disconnect"}
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def capture(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        assert claim.transaction_id is not None
        stored = False
        # The transaction this request creates gets the id the key already names.
        with reserving(claim.transaction_id) as reservation:
            try:
                app: Any = self._app
                async with lease.kept():
                    await app(scope, replay_body, capture)
                response_body = b"".join(chunks)
                status = int(start.get("status", 500))
                content_type = header(start.get("headers", []), b"content-type")
                if is_decision(outcome_of(status, response_body)):
                    answer = StoredResponse(
                        status,
                        content_type.decode("latin-1") if content_type else "application/json",
                        response_body,
                    )
                    await lease.complete(answer)
                    stored = True
            finally:
                if not stored:
                    # Forget the key only when no transaction can exist under
                    # its id; otherwise the next retry looks the transaction up.
                    await lease.end(keep=reservation.taken or claim.outcome == "abandoned")
        await send(start)
        await send({"type": "http.response.body", "body": response_body})


def idempotency_middleware(ttl_s: int, max_body_bytes: int) -> DefineMiddleware:
    return DefineMiddleware(IdempotencyMiddleware, ttl_s=ttl_s, max_body_bytes=max_body_bytes)
