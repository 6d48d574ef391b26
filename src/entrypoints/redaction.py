"""Redaction: secrets, Bearer tokens, card numbers (Luhn-checked) and IBANs masked in text.

One process-wide Redactor holds every registered secret (``add_secrets``);
the logging filter (log_format.py) runs each record through it, in the JSON
format and in the human-readable text format alike.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from entrypoints.settings import Settings

REDACTED = "[REDACTED]"
# Shorter "secrets" (test keys, key ids like "k1") would mangle ordinary words.
MIN_SECRET_LENGTH = 8

_BEARER = re.compile(r"\b(Bearer)\s+[A-Za-z0-9\-._~+/]+=*", re.IGNORECASE)
# Digit groups joined by single spaces or dashes ("4111 1111-1111 1111"); the
# candidate card numbers inside are picked out group-aligned by _mask_pans.
_DIGIT_RUN = re.compile(r"(?<!\d)\d+(?:[ -]\d+)*(?!\d)")
_DIGITS = re.compile(r"\d+")
# Country code, check digits, 11-30 alphanumerics: compact, or in groups of
# four as printed. Underscores count as word characters so ids like
# "evt_<hex>" are not taken for IBANs.
_IBAN = re.compile(
    r"(?<![A-Za-z0-9_])[A-Z]{2}[0-9]{2}"
    r"(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,4})?)"
    r"(?![A-Za-z0-9_])",
    re.IGNORECASE,
)


def _luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _mask_pans(match: re.Match[str]) -> str:
    """Mask the Luhn-valid 13-19 digit spans of one digit run, group-aligned.

    Group-aligned so a card number next to other numbers ("amount 100 4111
    1111 1111 1111") is still found, while a long id is never cut into a
    fake card number. A run that fails Luhn (an order id) stays as it is.
    """
    run = match.group(0)
    groups = list(_DIGITS.finditer(run))
    out: list[str] = []
    copied = 0
    i = 0
    while i < len(groups):
        masked = False
        digits = ""
        spans: list[tuple[int, str]] = []
        for j in range(i, len(groups)):
            digits += groups[j].group(0)
            if len(digits) > 19:
                break
            if len(digits) >= 13:
                spans.append((j, digits))
        for j, candidate in reversed(spans):  # the longest valid span wins
            if _luhn_ok(candidate):
                out.append(run[copied : groups[i].start()])
                out.append(f"[PAN ****{candidate[-4:]}]")
                copied = groups[j].end()
                i = j + 1
                masked = True
                break
        if not masked:
            i += 1
    out.append(run[copied:])
    return "".join(out)


def _mask_iban(match: re.Match[str]) -> str:
    compact = match.group(0).replace(" ", "")
    if not 15 <= len(compact) <= 34:  # the grouped form can fall outside 11-30
        return match.group(0)
    return f"[IBAN ****{compact[-4:]}]"


class Redactor:
    """Replaces secrets, Bearer tokens, card numbers and IBANs in text.

    Secrets only accumulate: forgetting one on reconfiguration would be the
    dangerous mistake. Matching is case-insensitive so a hex key logged in
    lower case is still caught.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: frozenset[str] = frozenset()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        """Also redact these (strings shorter than MIN_SECRET_LENGTH are ignored)."""
        new = {s for s in secrets if len(s) >= MIN_SECRET_LENGTH}
        with self._lock:
            merged = self._secrets | new
            if merged == self._secrets:
                return
            # Longest first, so a whole key spec wins over the key it contains.
            alternatives = sorted(merged, key=len, reverse=True)
            pattern = re.compile("|".join(map(re.escape, alternatives)), re.IGNORECASE)
            # Swapped in one assignment: concurrent __call__s see old or new, both whole.
            self._secrets, self._pattern = merged, pattern

    def __call__(self, text: str) -> str:
        """``text`` with everything sensitive replaced."""
        pattern = self._pattern
        if pattern is not None:
            text = pattern.sub(REDACTED, text)
        text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
        # IBANs before card numbers: their digits could otherwise be half-masked as a PAN.
        text = _IBAN.sub(_mask_iban, text)
        return _DIGIT_RUN.sub(_mask_pans, text)


_REDACTOR = Redactor()


def redactor() -> Redactor:
    """The process-wide Redactor every logging handler of ours applies."""
    return _REDACTOR


def add_secrets(secrets: Iterable[str]) -> None:
    """Redact these strings too, from now on (e.g. once generated secrets are loaded)."""
    _REDACTOR.add(secrets)


def secret_values(settings: Settings) -> list[str]:
    """Every secret in ``settings``, in the forms it may be logged in.

    API keys, admin API keys, webhook secrets, merchant keys, the encryption key spec whole,
    per entry and as bare base64 keys (with and without padding), and the
    database password.
    """
    values = [*settings.api_keys, *settings.admin_api_keys]
    for gateway_secrets in settings.webhook_secrets.values():
        values += gateway_secrets
    values += settings.gateway_keys.values()
    if settings.encryption_keys:
        values.append(settings.encryption_keys)
        for entry in settings.encryption_keys.split(","):
            entry = entry.strip()
            _, _, key = entry.partition(":")
            values += [entry, key, key.rstrip("=")]
    password = _database_password(settings.database_url)
    if password:
        values.append(password)
    return [v for v in values if v]


def _database_password(url: str | None) -> str | None:
    if not url:
        return None
    # Imported here so configuring logging does not load the driver.
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict

    try:
        password = conninfo_to_dict(url).get("password")
    except ProgrammingError:
        return None  # a malformed URL fails at connection time, with its own message
    return str(password) if password else None
