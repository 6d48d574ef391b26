import pytest

from adapters.crypto.keyring import Keyring, KeyringError

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
