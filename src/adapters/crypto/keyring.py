"""AES-256-GCM field encryption with a keyring, for data at rest.

Token format: ``v1.<key_id>.<base64url(nonce || ciphertext+tag)>``. The key id
travels in every token so old keys keep decrypting after a new primary key is
added; rotation re-encrypts under the primary, then old keys can be dropped.
Associated data binds a token to its place (table, column, row id): a
ciphertext copied to another row or column does not decrypt.

Keys come from ``PAYMENTS_ENCRYPTION_KEYS`` as ``id:base64key,id2:base64key``;
the first one is the primary used for new encryptions.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from domain.errors import PaymentError

_KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
NONCE_BYTES = 12  # 96-bit random nonces: safe far beyond our volume per key
VERSION = "v1"


class KeyringError(PaymentError):
    """A key or token that cannot be used (bad config, unknown key, tampering)."""

    code = "encryption-error"


def _b64decode(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


class Keyring:
    def __init__(self, keys: list[tuple[str, bytes]]) -> None:
        if not keys:
            raise KeyringError("the keyring needs at least one key")
        for key_id, key in keys:
            if not _KEY_ID.match(key_id):
                raise KeyringError(f"invalid key id {key_id!r}")
            if len(key) != 32:
                raise KeyringError(f"key {key_id} must be 32 bytes (AES-256)")
        self._ordered = list(keys)
        self._aead = {key_id: AESGCM(key) for key_id, key in keys}
        if len(self._aead) != len(keys):
            raise KeyringError("duplicate key id in the keyring")

    @classmethod
    def parse(cls, value: str | None) -> Keyring:
        """Read ``id:base64key,id2:base64key`` (first is primary)."""
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
        return cls(keys)

    @staticmethod
    def new_key_spec(key_id: str | None = None) -> str:
        """A fresh ``id:base64key`` entry for configuration."""
        key_id = key_id or f"k{secrets.token_hex(4)}"
        return f"{key_id}:{base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip('=')}"

    @property
    def primary_key_id(self) -> str:
        return self._ordered[0][0]

    @property
    def key_ids(self) -> list[str]:
        return [key_id for key_id, _ in self._ordered]

    def encrypt(self, plaintext: bytes, associated_data: bytes) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead[self.primary_key_id].encrypt(nonce, plaintext, associated_data)
        body = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        return f"{VERSION}.{self.primary_key_id}.{body}"

    def decrypt(self, token: str, associated_data: bytes) -> bytes:
        key_id = self.key_id_of(token)
        aead = self._aead.get(key_id)
        if aead is None:
            raise KeyringError(f"no key {key_id} in the keyring")
        try:
            raw = _b64decode(token.split(".", 2)[2])
            return aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], associated_data)
        except (InvalidTag, binascii.Error, ValueError):
            raise KeyringError("ciphertext failed authentication") from None

    @staticmethod
    def key_id_of(token: str) -> str:
        parts = token.split(".", 2)
        if len(parts) != 3 or parts[0] != VERSION:
            raise KeyringError("not an encrypted token")
        return parts[1]
