"""Operator sessions for the dashboard: HMAC-signed cookies; only logouts are stored.

Why signed cookies rather than a session table in memory: production runs
several worker processes (``granian --workers 2``) and several replicas, and
an in-memory session would only be known to the process that created it. The
signing key is derived from configuration every process shares — the
encryption keys and the admin API keys — so every worker accepts every other
worker's cookies, restarts keep operators logged in, and removing an admin
key (or rotating the encryption keys) ends every session at once.

The cookie holds the actor label (role and a 10-hex-digit digest of the key,
the same label the JSON API writes to the audit trail), a random nonce and
two timestamps — never the key. The CSRF token is an HMAC of the nonce, so it
needs no storage either. Logging out deletes the cookie and revokes its nonce
in the ``SessionRevocations`` store (PostgreSQL), which every process asks
after checking the signature: a copy of the cookie is refused everywhere,
after restarts too, until it would have expired anyway (``expires_at``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

IDLE_TIMEOUT_S = 60 * 60  # an unattended laptop logs out after an hour
ABSOLUTE_TIMEOUT_S = 8 * 60 * 60  # a working day at most, however busy
REFRESH_AFTER_S = 60  # re-issue the cookie (sliding idle expiry) at most once a minute
MAX_COOKIE_CHARS = 1000
VERSION = "v1"


@dataclass(frozen=True, slots=True)
class OperatorSession:
    """One logged-in operator (one browser), as read from a valid cookie."""

    actor: str  # "admin:<short key digest>", as the API's audit entries
    nonce: str
    issued_at: int
    last_seen: int
    csrf_token: str  # echoed by every form; SameSite=Strict is the first line

    def csrf_ok(self, token: str | None) -> bool:
        """Constant-time comparison of a submitted form token."""
        return token is not None and hmac.compare_digest(_bytes(token), _bytes(self.csrf_token))


def _bytes(text: str) -> bytes:
    # compare_digest refuses non-ASCII str; a crafted form or cookie may carry some.
    return text.encode("utf-8", "replace")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def derive_secret(material: str | None, admin_keys: Iterable[str]) -> bytes:
    """The signing key: shared by every process with the same configuration.

    ``material`` is the encryption key spec (high-entropy, required in
    production and persisted by the embedded default); the admin keys enter
    only as digests, so a captured cookie cannot be brute-forced back to a key.
    Without material, a random per-process secret (sessions then do not
    survive a restart or cross workers).
    """
    if not material:
        return secrets.token_bytes(32)
    digests = sorted(hashlib.sha256(k.encode()).hexdigest() for k in admin_keys)
    label = ("payments-dashboard-session-" + VERSION + "|" + "|".join(digests)).encode()
    return hmac.new(hashlib.sha256(material.encode()).digest(), label, hashlib.sha256).digest()


class SessionSigner:
    """Issues and checks session cookies and the one-shot message cookie."""

    def __init__(
        self,
        secret: bytes,
        *,
        idle_timeout_s: int = IDLE_TIMEOUT_S,
        absolute_timeout_s: int = ABSOLUTE_TIMEOUT_S,
        clock: Callable[[], float] = time.time,  # wall clock: shared by processes
    ) -> None:
        self._secret = secret
        self._idle = idle_timeout_s
        self._absolute = absolute_timeout_s
        self._clock = clock

    # --- sessions ---

    def issue(self, actor: str) -> tuple[str, OperatorSession]:
        """A new session (a fresh nonce at every login: no fixation); returns the cookie."""
        now = int(self._clock())
        session = self._session(actor, secrets.token_urlsafe(16), now, now)
        return self._encode(session), session

    def open(self, cookie: str | None) -> OperatorSession | None:
        """The session in a cookie, or None: unsigned, tampered or expired.

        Whether it was logged out is the ``SessionRevocations`` store's to say.
        """
        payload = self._verify("session", cookie)
        if payload is None:
            return None
        try:
            actor, nonce, issued_at, last_seen = (
                str(payload["a"]),
                str(payload["n"]),
                int(payload["i"]),
                int(payload["s"]),
            )
        except (KeyError, TypeError, ValueError):
            return None
        now = int(self._clock())
        if now - last_seen > self._idle or now - issued_at > self._absolute:
            return None
        return self._session(actor, nonce, issued_at, last_seen)

    def refreshed(self, session: OperatorSession) -> str | None:
        """A cookie with a new last-seen time when due (sliding idle expiry), else None."""
        now = int(self._clock())
        if now - session.last_seen < REFRESH_AFTER_S:
            return None
        return self._encode(self._session(session.actor, session.nonce, session.issued_at, now))

    def expires_at(self, session: OperatorSession) -> datetime:
        """When every cookie of this session dies anyway (its absolute lifetime).

        A revocation need not be kept longer; the idle expiry is no bound, as
        a copy refreshed elsewhere may have been seen later than this one.
        """
        return datetime.fromtimestamp(session.issued_at + self._absolute, UTC)

    # --- one-shot messages (post/redirect/get) ---

    def seal_messages(self, messages: list[tuple[str, str]]) -> str:
        """A signed cookie value carrying messages to the next page."""
        now = int(self._clock())
        return self._sign("flash", {"m": [[k, t[:300]] for k, t in messages[:5]], "t": now})

    def open_messages(self, cookie: str | None) -> list[tuple[str, str]]:
        """The messages in a cookie, if it is ours and fresh (a stale one shows nothing)."""
        payload = self._verify("flash", cookie)
        if payload is None:
            return []
        try:
            sealed_at = payload["t"]
            messages = payload["m"]
            if not isinstance(sealed_at, int) or not isinstance(messages, list):
                return []
            if int(self._clock()) - sealed_at > 120:
                return []
            return [(str(k), str(t)) for k, t in messages]
        except (KeyError, TypeError, ValueError):
            return []

    # --- internals ---

    def _session(self, actor: str, nonce: str, issued_at: int, last_seen: int) -> OperatorSession:
        csrf = _b64(hmac.new(self._secret, b"csrf|" + nonce.encode(), hashlib.sha256).digest())
        return OperatorSession(actor, nonce, issued_at, last_seen, csrf)

    def _encode(self, session: OperatorSession) -> str:
        return self._sign(
            "session",
            {
                "a": session.actor,
                "n": session.nonce,
                "i": session.issued_at,
                "s": session.last_seen,
            },
        )

    def _mac(self, purpose: str, body: str) -> str:
        # The purpose is signed too: a message cookie can never pass as a session.
        message = f"{VERSION}|{purpose}|{body}".encode()
        return _b64(hmac.new(self._secret, message, hashlib.sha256).digest())

    def _sign(self, purpose: str, payload: dict[str, object]) -> str:
        body = _b64(json.dumps(payload, separators=(",", ":")).encode())
        return f"{VERSION}.{body}.{self._mac(purpose, body)}"

    def _verify(self, purpose: str, cookie: str | None) -> dict[str, Any] | None:
        if not cookie or len(cookie) > MAX_COOKIE_CHARS:
            return None
        version, _, rest = cookie.partition(".")
        body, _, mac = rest.partition(".")
        expected = self._mac(purpose, body)
        if version != VERSION or not body or not hmac.compare_digest(_bytes(mac), _bytes(expected)):
            return None
        try:
            payload = json.loads(_unb64(body))
        except (ValueError, binascii.Error, UnicodeDecodeError):
            return None
        return payload if isinstance(payload, dict) else None
