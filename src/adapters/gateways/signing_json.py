"""Signatures of JSON gateway callbacks: Stripe's ``Stripe-Signature`` scheme.

We carry it in our own header, ``X-Signature``, with exactly Stripe's content
(https://docs.stripe.com/webhooks#verify-manually)::

    X-Signature: t=1700000000,v1=5257a869...,v1=a1b2c3...

* ``t`` is the sender's Unix time; it is signed too, so a replayed callback
  cannot be given a fresh timestamp, and a receiver refuses one outside its
  tolerance (300 s, Stripe's default).
* each ``v1`` is ``hex(HMAC-SHA256(secret, f"{t}." + raw body))``: the raw
  bytes as received, never a re-serialised JSON document.
* during a secret rotation the sender signs with every active secret, one
  ``v1`` each, and the receiver accepts the callback when any ``v1`` matches
  any of its secrets. Other schemes (Stripe's test-mode ``v0``) are ignored.

Stripe's own ``stripe.WebhookSignature.verify_header`` accepts what
:func:`sign_json` writes, and :func:`verify_json` accepts Stripe's headers; the
compatibility tests pin both directions.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from domain.errors import InvalidSignature

SIGNATURE_HEADER = "X-Signature"
DEFAULT_TOLERANCE_S = 300  # Stripe's DEFAULT_TOLERANCE
_SCHEME = "v1"
# More signatures than this is no rotation but an attempt to make us hash a lot.
_MAX_SIGNATURES = 16
# Digits only: int() alone would also take "+1", " 1" and "1_0".
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


def _mac(secret: str, timestamp: int, body: bytes) -> bytes:
    """Stripe's v1 signature, as lowercase hex in ASCII bytes."""
    signed_payload = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), signed_payload, hashlib.sha256).hexdigest().encode()


def sign_json(body: bytes, secrets: Sequence[str], timestamp: int) -> str:
    """The ``X-Signature`` value for ``body``: ``t=<timestamp>,v1=<hex>``, one v1 per secret.

    Raises ValueError without a secret, with an empty one or a negative time:
    those are programming or configuration errors, not a bad callback.
    """
    if not secrets or any(not secret for secret in secrets):
        raise ValueError("signing needs at least one non-empty secret")
    if timestamp < 0:
        raise ValueError("the timestamp must be a Unix time")
    parts = [f"t={timestamp}"]
    parts.extend(f"{_SCHEME}={_mac(secret, timestamp, body).decode()}" for secret in secrets)
    return ",".join(parts)


def _parse_header(header: str) -> tuple[int, list[bytes]]:
    """The timestamp and the v1 signatures of a header; InvalidSignature if garbled."""
    timestamp: int | None = None
    signatures: list[bytes] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            raise InvalidSignature("garbled signature header")
        if key == "t":
            # Two timestamps would leave it open which one was signed.
            if timestamp is not None or not _TIMESTAMP.fullmatch(value):
                raise InvalidSignature("garbled signature header")
            timestamp = int(value)
        elif key == _SCHEME:
            # Bytes, so a non-ASCII value compares (and fails) instead of raising.
            signatures.append(value.encode())
    if timestamp is None:
        raise InvalidSignature("signature header has no timestamp")
    if not signatures:
        raise InvalidSignature("signature header has no v1 signature")
    if len(signatures) > _MAX_SIGNATURES:
        raise InvalidSignature("signature header has too many signatures")
    return timestamp, signatures


def verify_json(
    header: str | None,
    body: bytes,
    secrets: Sequence[str],
    *,
    now: float,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> int:
    """Check an ``X-Signature`` header against the raw body; returns its timestamp.

    Raises InvalidSignature when the header is missing or garbled, when no v1
    matches any secret, or when ``t`` is more than ``tolerance_s`` away from
    ``now`` in either direction (Stripe only refuses old ones; a timestamp far
    in the future would outlive the replay window, so we refuse it too).
    Empty secrets are skipped, so a blank configuration value authenticates
    nothing. Messages never contain a secret or an expected signature.
    """
    if header is None or not header.strip():
        raise InvalidSignature(f"missing {SIGNATURE_HEADER} header")
    timestamp, signatures = _parse_header(header)
    # Compare every (secret, signature) pair without stopping at the first hit,
    # so the time taken does not tell which secret or which position matched.
    matched = False
    for secret in secrets:
        if not secret:
            continue
        expected = _mac(secret, timestamp, body)
        for signature in signatures:
            matched |= hmac.compare_digest(expected, signature)
    if not matched:
        raise InvalidSignature("no signature matches")
    # Checked after the signature, as Stripe does: only an authentic sender
    # learns that its clock is off.
    if abs(now - timestamp) > tolerance_s:
        raise InvalidSignature("signature timestamp outside the tolerance")
    return timestamp


@dataclass(frozen=True, slots=True)
class SignatureCheck:
    """The check a JSON callback verifier runs first: ``header`` read from the
    request (either case) and verified with :func:`verify_json`."""

    header: str
    secrets: Sequence[str]
    tolerance_s: int = DEFAULT_TOLERANCE_S
    clock: Callable[[], float] = field(default=time.time)

    def __call__(self, headers: Mapping[str, str], body: bytes) -> None:
        verify_json(
            headers.get(self.header.lower()) or headers.get(self.header),
            body,
            self.secrets,
            now=self.clock(),
            tolerance_s=self.tolerance_s,
        )
