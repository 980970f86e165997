"""Structured JSON logs for the service: one JSON object per line, with PII redacted.

The service never logs message text on purpose; redaction (``careassist.privacy.redact``) is the
safety net for what slips through anyway (an exception message, a field logged by a library): every
string of a record, the message, the extra fields, the traceback, has e-mail addresses, phone
numbers, SSNs, dates of birth, record numbers, street addresses and links replaced by ``[TYPE]``.
It does not find names or free-text descriptions: it reduces harm, it is no licence to log text.
"""

from __future__ import annotations

import json
import logging
import math
import re
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

from careassist.privacy import redact

__all__ = ["JsonFormatter", "configure_json_logging"]

#: Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}
#: Request ids (uuids) and digests: opaque by construction, yet a uuid's last group can be twelve
#: digits, which redaction would take for a record number.
_OPAQUE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{64}", re.IGNORECASE)
#: Marks the handler ``configure_json_logging`` installed, so a second call replaces nothing else.
_MARKER = "_careassist_json_handler"


def _clean(value: Any, depth: int = 0) -> Any:
    """A JSON-ready copy of ``value`` with every string redacted."""
    if isinstance(value, str):
        return value if _OPAQUE.fullmatch(value) else redact(value)
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if depth < 5 and isinstance(value, Mapping):
        return {redact(str(k)): _clean(v, depth + 1) for k, v in value.items()}
    if depth < 5 and isinstance(value, list | tuple | set | frozenset):
        return [_clean(v, depth + 1) for v in value]
    return redact(str(value))


def _utc_stamp(created: float) -> str:
    return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message", ...extra fields, "exception"?}``, redacted, UTC time."""

    def format(self, record: logging.LogRecord) -> str:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string must not lose the record
            message = f"{record.msg!s} {record.args!r}"
        entry: dict[str, Any] = {
            "time": _utc_stamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(message),
        }
        for name, value in record.__dict__.items():
            if name not in _STANDARD_ATTRIBUTES and not name.startswith("_") and name not in entry:
                entry[name] = _clean(value)
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_json_logging(level: int | str = "INFO", stream: TextIO | None = None) -> logging.Handler:
    """Send the root logger's records to ``stream`` (stderr) as redacted JSON lines; idempotent.

    A second call reuses the handler it installed (new level and stream) instead of adding another;
    handlers installed by others (gunicorn's, pytest's) are left alone.
    """
    level = level.upper() if isinstance(level, str) else level
    root = logging.getLogger()
    handler = next((h for h in root.handlers if getattr(h, _MARKER, False)), None)
    if handler is None:
        handler = logging.StreamHandler(stream or sys.stderr)
        setattr(handler, _MARKER, True)
        root.addHandler(handler)
    elif stream is not None and isinstance(handler, logging.StreamHandler):
        handler.setStream(stream)
    handler.setFormatter(JsonFormatter())
    handler.setLevel(level)
    root.setLevel(level)
    return handler
