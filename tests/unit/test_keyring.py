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
