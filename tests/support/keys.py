"""A throwaway encryption keyring for tests."""

from adapters.crypto.keyring import Keyring

TEST_KEYRING = Keyring.parse(Keyring.new_key_spec("test"))
