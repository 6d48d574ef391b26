"""AES-256-GCM field encryption with a keyring, for data at rest.

Token format: ``v1.<key_id>.<base64url(nonce || ciphertext+tag)>``. The key id
travels in every token so old keys keep decrypting after a new primary key is
added; rotation re-encrypts under the primary, then old keys can be dropped.
Associated data binds a token to its place (table, column, row id): a
ciphertext copied to another row or column does not decrypt.

Keys come from ``PAYMENTS_ENCRYPTION_KEYS`` as ``id:base64key,id2:base64key``;
the first one is the primary used for new encryptions.

A keyring may also be given a *source* to reload its keys from (the embedded
default reads secrets.json in its data dir). Meeting a token under a key id
it does not know, it reloads once and retries; with a refresh interval it
also picks up a new primary before encrypting. So a process started before a
rotation keeps reading the rows already re-encrypted under the new key, and
soon encrypts under it too.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from domain.errors import PaymentError

_KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
NONCE_BYTES = 12  # 96-bit random nonces: safe far beyond our volume per key
VERSION = "v1"

# Where a keyring reloads its keys from: (id, 32-byte key) pairs, primary first.
KeySource = Callable[[], list[tuple[str, bytes]]]

log = logging.getLogger(__name__)


class KeyringError(PaymentError):
    """A key or token that cannot be used (bad config, unknown key, tampering)."""

    code = "encryption-error"


def _b64decode(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


@dataclass(frozen=True, slots=True)
class _Keys:
    """One consistent view of the keys: replaced whole, so readers need no lock."""

    ordered: tuple[tuple[str, bytes], ...]
    aead: dict[str, AESGCM]

    @classmethod
    def of(cls, keys: list[tuple[str, bytes]]) -> _Keys:
        if not keys:
            raise KeyringError("the keyring needs at least one key")
        for key_id, key in keys:
            if not _KEY_ID.match(key_id):
                raise KeyringError(f"invalid key id {key_id!r}")
            if len(key) != 32:
                raise KeyringError(f"key {key_id} must be 32 bytes (AES-256)")
        aead = {key_id: AESGCM(key) for key_id, key in keys}
        if len(aead) != len(keys):
            raise KeyringError("duplicate key id in the keyring")
        return cls(tuple(keys), aead)


class Keyring:
    """AES-256-GCM keys by id: the first one encrypts, every one decrypts.

    ``reload`` (optional) returns the current keys from their source. It is
    called when a token names an unknown key id and, when
    ``refresh_interval_s`` is set, before an encryption at most once per
    interval. The reloaded keys come first (the source's first key becomes the
    primary); keys the source no longer lists are kept, because this process
    may still hold tokens under them until a rotation has rewritten them all.
    """

    def __init__(
        self,
        keys: list[tuple[str, bytes]],
        reload: KeySource | None = None,
        *,
        refresh_interval_s: float | None = None,
    ) -> None:
        self._keys = _Keys.of(list(keys))
        self._reload = reload
        self._refresh_interval_s = refresh_interval_s
        self._refreshed_at = time.monotonic()
        # Serialises reloads only. Threads (sync handlers, test servers) that
        # meet the same new key id at once then read the source once.
        self._reload_lock = threading.Lock()

    @staticmethod
    def parse_keys(value: str | None) -> list[tuple[str, bytes]]:
        """Read ``id:base64key,id2:base64key`` into (id, key) pairs, primary first."""
        if not value:
            raise KeyringError("no encryption keys configured (PAYMENTS_ENCRYPTION_KEYS)")
        keys = []
        for item in (part.strip() for part in value.split(",")):
            if not item:
                continue
            key_id, sep, encoded = item.partition(":")
            if not sep:
                raise KeyringError("each key must be written as id:base64key")
            try:
                keys.append((key_id, _b64decode(encoded)))
            except (binascii.Error, ValueError):
                raise KeyringError(f"key {key_id} is not valid base64") from None
        return keys

    @classmethod
    def parse(
        cls,
        value: str | None,
        reload: KeySource | None = None,
        *,
        refresh_interval_s: float | None = None,
    ) -> Keyring:
        """Read ``id:base64key,id2:base64key`` (first is primary)."""
        return cls(cls.parse_keys(value), reload, refresh_interval_s=refresh_interval_s)

    @staticmethod
    def new_key_spec(key_id: str | None = None) -> str:
        """A fresh ``id:base64key`` entry for configuration."""
        key_id = key_id or f"k{secrets.token_hex(4)}"
        return f"{key_id}:{base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip('=')}"

    @property
    def primary_key_id(self) -> str:
        return self._keys.ordered[0][0]

    @property
    def key_ids(self) -> list[str]:
        return [key_id for key_id, _ in self._keys.ordered]

    def encrypt(self, plaintext: bytes, associated_data: bytes) -> str:
        self._refresh_if_due()
        keys = self._keys  # one snapshot: the id written matches the key used
        primary = keys.ordered[0][0]
        nonce = os.urandom(NONCE_BYTES)
        sealed = keys.aead[primary].encrypt(nonce, plaintext, associated_data)
        body = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        return f"{VERSION}.{primary}.{body}"

    def decrypt(self, token: str, associated_data: bytes) -> bytes:
        key_id = self.key_id_of(token)
        aead = self._keys.aead.get(key_id)
        if aead is None and self._reload is not None:
            # Another process may have rotated to a key we have not seen yet.
            self._reload_quietly(wanted=key_id)
            aead = self._keys.aead.get(key_id)
        if aead is None:
            raise KeyringError(f"no key {key_id} in the keyring")
        try:
            raw = _b64decode(token.split(".", 2)[2])
            return aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], associated_data)
        except (InvalidTag, binascii.Error, ValueError):
            raise KeyringError("ciphertext failed authentication") from None

    def reload(self) -> bool:
        """Read the keys from the source now; True when the keys changed.

        Raises KeyringError when there is no source, when the source's keys
        are invalid, or when a known key id comes back with other key bytes
        (ids are forever: tokens under the old bytes would stop decrypting).
        """
        if self._reload is None:
            raise KeyringError("this keyring has no source to reload from")
        with self._reload_lock:
            self._refreshed_at = time.monotonic()
            fresh = _Keys.of(list(self._reload()))
            current = self._keys
            known = dict(current.ordered)
            for key_id, key in fresh.ordered:
                if key_id in known and known[key_id] != key:
                    raise KeyringError(f"key {key_id} changed its key bytes; refusing it")
            kept = [(key_id, key) for key_id, key in current.ordered if key_id not in fresh.aead]
            merged = _Keys.of([*fresh.ordered, *kept])
            if merged.ordered == current.ordered:
                return False
            self._keys = merged
        log.info("encryption keys reloaded: primary %s, keys %s", self.primary_key_id, self.key_ids)
        return True

    def _reload_quietly(self, wanted: str | None = None) -> None:
        """Reload, logging instead of raising: a bad source leaves the keys as they are."""
        if wanted is not None and wanted in self._keys.aead:
            return  # another thread loaded it while we waited
        try:
            self.reload()
        except Exception as exc:  # the source is pluggable: any failure means "no change"
            log.warning("could not reload encryption keys: %s", exc)

    def _refresh_if_due(self) -> None:
        interval = self._refresh_interval_s
        if self._reload is None or interval is None:
            return
        if time.monotonic() - self._refreshed_at < interval:
            return
        self._reload_quietly()

    @staticmethod
    def key_id_of(token: str) -> str:
        parts = token.split(".", 2)
        if len(parts) != 3 or parts[0] != VERSION:
            raise KeyringError("not an encrypted token")
        return parts[1]
