"""Retire an old encryption key, once no stored ciphertext uses it."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from application.encryption_keys.ports import ConfiguredKeys, StoredCiphertexts


class Retirement(enum.Enum):
    PRIMARY = "primary"  # refused: rotate to a new key first
    IN_USE = "in-use"  # refused: ciphertexts still use it
    NOT_CONFIGURED = "not-configured"  # nothing to do
    SAFE_TO_DROP = "safe-to-drop"  # the operator drops it where the keys are kept
    RETIRED = "retired"  # dropped from the editable keys


@dataclass(frozen=True, slots=True)
class RetireResult:
    outcome: Retirement
    in_use: int  # ciphertexts under the key
    remaining: list[str]  # the keys to keep


class RetireKey:
    """Drop a key no ciphertext uses; never the primary."""

    def __init__(self, ciphertexts: StoredCiphertexts, keys: ConfiguredKeys) -> None:
        self._ciphertexts = ciphertexts
        self._keys = keys

    async def execute(self, key_id: str) -> RetireResult:
        key_ids = self._keys.key_ids()
        in_use = (await self._ciphertexts.key_usage()).get(key_id, 0)
        remaining = [k for k in key_ids if k != key_id]
        if key_id == key_ids[0]:
            outcome = Retirement.PRIMARY
        elif in_use:
            outcome = Retirement.IN_USE
        elif key_id not in key_ids:
            outcome = Retirement.NOT_CONFIGURED
        elif not self._keys.editable:
            outcome = Retirement.SAFE_TO_DROP
        else:
            # No stored row needs it; processes that already hold it keep it in memory.
            self._keys.retire(key_id)
            outcome = Retirement.RETIRED
        return RetireResult(outcome, in_use, remaining)
