"""Where the encryption keys come from, for the service and for ``payments keys``.

Two shapes of rotation:

* embedded default (no PAYMENTS_DATABASE_URL, keys in the data dir's
  secrets.json): ``keys rotate`` adds a new primary key to secrets.json and
  re-encrypts everything under it. A ``serve`` process that is already
  running reloads secrets.json (``build_keyring``) when it meets the new key
  id, and picks up the new primary within ``KEY_REFRESH_S``; then
  ``keys retire OLD`` drops the old key.
* production (keys in PAYMENTS_ENCRYPTION_KEYS): the operator makes a key
  with ``keys generate``, deploys it to every process (first as a second key,
  then first, so no process ever meets a key it lacks), then runs
  ``keys rotate`` with the same environment, which re-encrypts everything
  under that primary; ``keys status`` / ``keys retire`` say when the old key
  may leave PAYMENTS_ENCRYPTION_KEYS.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from adapters.crypto.keyring import Keyring, KeyringError
from entrypoints.embedded import (
    SECRETS_FILE,
    embedded_keyring_loader,
    embedded_settings,
    retire_embedded_key,
    rotate_embedded_key,
    stored_encryption_keys,
)
from entrypoints.settings import Settings, SettingsError

# How often (at most) a process on the embedded default re-reads secrets.json
# before encrypting, to switch to a primary key another process added.
KEY_REFRESH_S = 2.0


def build_keyring(settings: Settings) -> Keyring:
    """The service's keyring; on the embedded default it follows secrets.json.

    The reload source is attached only when the configured keys are the ones
    in secrets.json: keys set through PAYMENTS_ENCRYPTION_KEYS are never mixed
    with the file's.
    """
    keys = Keyring.parse_keys(settings.encryption_keys)
    if settings.embedded and _keys_from_data_dir(settings.data_dir, keys):
        return Keyring(
            keys,
            embedded_keyring_loader(settings.data_dir),
            refresh_interval_s=KEY_REFRESH_S,
        )
    return Keyring(keys)


def _keys_from_data_dir(data_dir: Path, keys: list[tuple[str, bytes]]) -> bool:
    try:
        stored = stored_encryption_keys(data_dir)
        # A subset, not equality: a rotation may have added a key since start-up.
        return stored is not None and set(keys) <= set(Keyring.parse_keys(stored))
    except (OSError, ValueError, KeyringError):
        return False


@dataclass(frozen=True, slots=True)
class KeyTarget:
    """The database and where its keys are kept (ConfiguredKeys for the rotation)."""

    settings: Settings  # resolved: on the embedded default, its server's URL and keys
    data_dir: Path | None  # set when the keys live in secrets.json (embedded default)
    encryption_keys: str

    @classmethod
    def of(cls, settings: Settings) -> KeyTarget:
        # Keys set in the environment win even on the embedded default, and
        # then only the environment can change them.
        keys_in_file = settings.embedded and not settings.encryption_keys
        if settings.embedded:
            settings = embedded_settings(settings)  # starts (or reuses) the embedded server
        if not settings.database_url:
            raise SettingsError("PAYMENTS_DATABASE_URL is not set")
        if not settings.encryption_keys:
            raise SettingsError("PAYMENTS_ENCRYPTION_KEYS is not set")
        return cls(
            settings,
            settings.data_dir if keys_in_file else None,
            settings.encryption_keys,
        )

    @property
    def editable(self) -> bool:
        """The keys are secrets.json's: ``payments keys`` may add and drop them."""
        return self.data_dir is not None

    def keyring(self) -> Keyring:
        """The keys as configured now (re-read: a rotation may just have changed them)."""
        if self.data_dir is None:
            return Keyring.parse(self.encryption_keys)
        return Keyring.parse(stored_encryption_keys(self.data_dir))

    def key_ids(self) -> list[str]:
        return self.keyring().key_ids

    @property
    def where(self) -> str:
        if self.data_dir is None:
            return "PAYMENTS_ENCRYPTION_KEYS"
        return str(self.data_dir / SECRETS_FILE)

    def add_primary(self) -> str:
        if self.data_dir is None:
            raise SettingsError("keys from PAYMENTS_ENCRYPTION_KEYS change only there")
        return rotate_embedded_key(self.data_dir)

    def retire(self, key_id: str) -> None:
        if self.data_dir is None:
            raise SettingsError("keys from PAYMENTS_ENCRYPTION_KEYS change only there")
        retire_embedded_key(self.data_dir, key_id)
