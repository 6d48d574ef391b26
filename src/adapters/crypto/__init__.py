"""Field encryption (AES-GCM with a keyring)."""
