"""Callback verification shared by every gateway family (the CallbackVerifier port).

Each family's verifier lives with its family (``json_callbacks.py``,
``soap_callbacks.py``) and is registered in ``families.py``. Signatures are
checked before anything is trusted; the parsed result is a list of
GatewayCallback, never a library type. What a family states about the payment
(amount, currency, gateway reference) is passed on for the applying worker to
compare with the accepted attempt; what cannot be about our payment at all
(another merchant account, an amount no payment can have) is marked
``mismatch``: stored and flagged, never applied.
"""

from __future__ import annotations

from collections.abc import Mapping

from application.ports import CallbackVerifier
from domain.errors import MalformedCallback

MAX_ID_LENGTH = 200  # the inbox's event id column holds at most this


def refuse_control_characters(*values: str | None) -> None:
    # PostgreSQL text cannot hold NUL, and no legitimate identifier or message
    # contains control characters: refuse them before anything is stored.
    for value in values:
        if value and any(ord(c) < 32 and c not in "\t\n\r" for c in value):
            raise MalformedCallback("callback fields contain control characters")


class CallbackVerifierRegistry:
    def __init__(self, verifiers: Mapping[str, CallbackVerifier]) -> None:
        self._verifiers = dict(verifiers)

    def get(self, gateway_id: str) -> CallbackVerifier | None:
        return self._verifiers.get(gateway_id)
