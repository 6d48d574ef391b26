import json
from pathlib import Path

import pytest

from adapters.crypto.keyring import Keyring, KeyringError
from entrypoints.embedded import (
    embedded_keyring_loader,
    retire_embedded_key,
    rotate_embedded_key,
)
from entrypoints.key_config import build_keyring
from entrypoints.settings import Settings

AAD = b"transactions.destination:tx-1"


def ring(*specs: str) -> Keyring:
    return Keyring.parse(",".join(specs))


def test_round_trip_carries_the_primary_key_id() -> None:
    keys = ring(Keyring.new_key_spec("k1"))
    token = keys.encrypt(b"IBAN DE89", AAD)
    assert token.startswith("v1.k1.")
    assert b"DE89" not in token.encode()
    assert keys.decrypt(token, AAD) == b"IBAN DE89"


def test_same_plaintext_encrypts_differently_each_time() -> None:
    keys = ring(Keyring.new_key_spec("k1"))
    assert keys.encrypt(b"x", AAD) != keys.encrypt(b"x", AAD)


def test_a_token_moved_to_another_row_does_not_decrypt() -> None:
    keys = ring(Keyring.new_key_spec("k1"))
    token = keys.encrypt(b"secret", AAD)
    with pytest.raises(KeyringError, match="authentication"):
        keys.decrypt(token, b"transactions.destination:tx-2")


def test_tampering_is_detected() -> None:
    keys = ring(Keyring.new_key_spec("k1"))
    token = keys.encrypt(b"secret", AAD)
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    with pytest.raises(KeyringError):
        keys.decrypt(flipped, AAD)


def test_old_keys_still_decrypt_after_a_new_primary() -> None:
    old = Keyring.new_key_spec("old")
    token = ring(old).encrypt(b"secret", AAD)
    rotated = ring(Keyring.new_key_spec("new"), old)
    assert rotated.primary_key_id == "new"
    assert rotated.decrypt(token, AAD) == b"secret"
    assert Keyring.key_id_of(rotated.encrypt(b"s", AAD)) == "new"


def test_a_removed_key_cannot_decrypt() -> None:
    token = ring(Keyring.new_key_spec("old")).encrypt(b"secret", AAD)
    with pytest.raises(KeyringError, match="no key old"):
        ring(Keyring.new_key_spec("new")).decrypt(token, AAD)


@pytest.mark.parametrize(
    "spec", ["", "nokey", "k1:not-base64!!", "k1:c2hvcnQ", "bad id:" + "A" * 43]
)
def test_bad_configuration_is_refused(spec: str) -> None:
    with pytest.raises(KeyringError):
        Keyring.parse(spec)


def test_duplicate_key_ids_are_refused() -> None:
    spec = Keyring.new_key_spec("k1")
    with pytest.raises(KeyringError, match="duplicate"):
        ring(spec, spec)


# Reloading from a source (the embedded default's secrets.json).


class Source:
    """A key source whose contents the test changes, counting reads."""

    def __init__(self, *specs: str) -> None:
        self.value = ",".join(specs)
        self.calls = 0

    def __call__(self) -> list[tuple[str, bytes]]:
        self.calls += 1
        return Keyring.parse_keys(self.value)


def test_an_unknown_key_id_reloads_once_and_decrypts() -> None:
    old, new = Keyring.new_key_spec("old"), Keyring.new_key_spec("new")
    source = Source(old)
    keys = Keyring.parse(old, source)
    rotated_token = ring(new, old).encrypt(b"secret", AAD)
    source.value = f"{new},{old}"
    assert keys.decrypt(rotated_token, AAD) == b"secret"
    assert source.calls == 1
    assert keys.primary_key_id == "new"  # the new primary is picked up too
    assert Keyring.key_id_of(keys.encrypt(b"s", AAD)) == "new"
    assert keys.decrypt(rotated_token, AAD) == b"secret"
    assert source.calls == 1  # known now: no further reads


def test_known_key_ids_never_reload() -> None:
    old = Keyring.new_key_spec("old")
    source = Source(old)
    keys = Keyring.parse(old, source)
    keys.decrypt(keys.encrypt(b"secret", AAD), AAD)
    assert source.calls == 0


def test_a_key_the_source_still_lacks_fails_after_one_reload() -> None:
    old = Keyring.new_key_spec("old")
    source = Source(old)
    token = ring(Keyring.new_key_spec("other")).encrypt(b"secret", AAD)
    with pytest.raises(KeyringError, match="no key other"):
        Keyring.parse(old, source).decrypt(token, AAD)
    assert source.calls == 1


def test_keys_dropped_from_the_source_are_kept() -> None:
    old, new = Keyring.new_key_spec("old"), Keyring.new_key_spec("new")
    source = Source(old)
    keys = Keyring.parse(old, source)
    old_token = keys.encrypt(b"secret", AAD)
    source.value = new  # "old" retired elsewhere while this process still holds tokens
    assert keys.reload() is True
    assert keys.key_ids == ["new", "old"]
    assert keys.decrypt(old_token, AAD) == b"secret"
    assert keys.reload() is False  # nothing changed since


def test_a_broken_source_leaves_the_keys_as_they_are() -> None:
    old = Keyring.new_key_spec("old")

    def broken() -> list[tuple[str, bytes]]:
        raise OSError("secrets.json is gone")

    keys = Keyring.parse(old, broken)
    token = ring(Keyring.new_key_spec("new")).encrypt(b"secret", AAD)
    with pytest.raises(KeyringError, match="no key new"):
        keys.decrypt(token, AAD)
    assert keys.key_ids == ["old"]


def test_a_key_id_with_other_key_bytes_is_refused() -> None:
    old = Keyring.new_key_spec("old")
    source = Source(old)
    keys = Keyring.parse(old, source)
    token = keys.encrypt(b"secret", AAD)
    source.value = Keyring.new_key_spec("old")  # same id, other bytes
    with pytest.raises(KeyringError, match="changed its key bytes"):
        keys.reload()
    assert keys.decrypt(token, AAD) == b"secret"


def test_reload_without_a_source_is_an_error() -> None:
    with pytest.raises(KeyringError, match="no source"):
        ring(Keyring.new_key_spec("k1")).reload()


def test_encrypt_picks_up_a_new_primary_after_the_refresh_interval(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import adapters.crypto.keyring as keyring_module

    now = [1000.0]
    monkeypatch.setattr(keyring_module.time, "monotonic", lambda: now[0])
    old, new = Keyring.new_key_spec("old"), Keyring.new_key_spec("new")
    source = Source(old)
    keys = Keyring.parse(old, source, refresh_interval_s=2.0)
    source.value = f"{new},{old}"
    assert Keyring.key_id_of(keys.encrypt(b"s", AAD)) == "old"  # not due yet
    assert source.calls == 0
    now[0] += 2.0
    assert Keyring.key_id_of(keys.encrypt(b"s", AAD)) == "new"
    assert Keyring.key_id_of(keys.encrypt(b"s", AAD)) == "new"
    assert source.calls == 1  # at most once per interval


def test_without_a_refresh_interval_encrypt_never_reads_the_source() -> None:
    old = Keyring.new_key_spec("old")
    source = Source(old)
    keys = Keyring.parse(old, source)
    for _ in range(3):
        keys.encrypt(b"s", AAD)
    assert source.calls == 0


# The embedded default: keys in secrets.json, followed by a running process.


def embedded(tmp_path: Path, encryption_keys: str | None = None) -> Settings:
    """Settings as a process on the embedded default sees them (secrets.json filled in)."""
    from entrypoints.embedded import with_stored_secrets

    return with_stored_secrets(
        Settings(data_dir=tmp_path, embedded=True, encryption_keys=encryption_keys)
    )


def test_rotating_the_embedded_key_prepends_a_new_primary(tmp_path: Path) -> None:
    settings = embedded(tmp_path)
    new_id = rotate_embedded_key(tmp_path)
    stored = json.loads((tmp_path / "secrets.json").read_text())
    keys = Keyring.parse(stored["encryption_keys"])
    assert keys.key_ids == [new_id, "k1"]
    assert stored["encryption_keys"].endswith(str(settings.encryption_keys))  # k1 unchanged
    assert oct((tmp_path / "secrets.json").stat().st_mode & 0o777) == "0o600"
    assert list(tmp_path.iterdir()) == [tmp_path / "secrets.json"]  # no temporary file left


def test_a_process_started_before_the_rotation_follows_secrets_json(tmp_path: Path) -> None:
    running = build_keyring(embedded(tmp_path))
    before = running.encrypt(b"old row", AAD)
    new_id = rotate_embedded_key(tmp_path)
    # What `keys rotate` writes with the new file's keys...
    rewritten = Keyring.parse(
        json.loads((tmp_path / "secrets.json").read_text())["encryption_keys"]
    )
    token = rewritten.encrypt(b"old row", AAD)
    # ...the running process reads, reloading on the unknown id.
    assert running.decrypt(token, AAD) == b"old row"
    assert running.primary_key_id == new_id
    retire_embedded_key(tmp_path, "k1")
    assert running.decrypt(before, AAD) == b"old row"  # still held in memory


def test_keys_from_the_environment_are_not_mixed_with_secrets_json(tmp_path: Path) -> None:
    embedded(tmp_path)  # secrets.json with its own k1
    keyring = build_keyring(embedded(tmp_path, encryption_keys=Keyring.new_key_spec("env")))
    rotate_embedded_key(tmp_path)
    file_keys = Keyring.parse(
        json.loads((tmp_path / "secrets.json").read_text())["encryption_keys"]
    )
    with pytest.raises(KeyringError, match="no key"):
        keyring.decrypt(file_keys.encrypt(b"x", AAD), AAD)
    assert keyring.key_ids == ["env"]


def test_production_keyrings_never_reload(tmp_path: Path) -> None:
    keyring = build_keyring(Settings(data_dir=tmp_path, encryption_keys=Keyring.new_key_spec("p")))
    with pytest.raises(KeyringError, match="no source"):
        keyring.reload()


def test_retiring_refuses_the_primary_and_unknown_ids(tmp_path: Path) -> None:
    embedded(tmp_path)
    new_id = rotate_embedded_key(tmp_path)
    with pytest.raises(KeyringError, match="primary"):
        retire_embedded_key(tmp_path, new_id)
    with pytest.raises(KeyringError, match="no key nope"):
        retire_embedded_key(tmp_path, "nope")
    retire_embedded_key(tmp_path, "k1")
    stored = json.loads((tmp_path / "secrets.json").read_text())["encryption_keys"]
    assert Keyring.parse(stored).key_ids == [new_id]


def test_the_loader_rereads_only_a_changed_file(tmp_path: Path) -> None:
    embedded(tmp_path)
    load = embedded_keyring_loader(tmp_path)
    first = load()
    assert load() == first
    new_id = rotate_embedded_key(tmp_path)
    assert [key_id for key_id, _ in load()] == [new_id, "k1"]
