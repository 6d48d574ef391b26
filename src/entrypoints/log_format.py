"""Log records rendered once, redacted, then formatted as JSON lines or readable text.

Every record gets the transaction id and actor bound in
``application.log_context`` (when set) plus any ``extra=`` fields.

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
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from application.log_context import current_actor, current_transaction_id

# Everything a bare LogRecord carries; whatever else is on a record came from extra=.
_RECORD_ATTRS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}
_CONTEXT_FIELDS = ("transaction_id", "actor")
# Keys of the JSON object that extra= fields must not overwrite.
_CORE_FIELDS = frozenset({"timestamp", "level", "logger", "message", "exception", "stack"})
# uvicorn duplicates its message with ANSI colours under this key; never useful here.
_DROPPED_EXTRAS = frozenset({"color_message"})
_EXCEPTION_FORMATTER = logging.Formatter()


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
