"""Which keys the stored ciphertexts use, against the configured keys."""

from __future__ import annotations

from application.encryption_keys.ports import ConfiguredKeys, KeyUsage, StoredCiphertexts


class GetKeyStatus:
    """Ciphertexts per key id; which keys are removable and which are missing."""

    def __init__(self, ciphertexts: StoredCiphertexts, keys: ConfiguredKeys) -> None:
        self._ciphertexts = ciphertexts
        self._keys = keys

    async def execute(self) -> KeyUsage:
        key_ids = self._keys.key_ids()
        return KeyUsage(key_ids, await self._ciphertexts.key_usage())
