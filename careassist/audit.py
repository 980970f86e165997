"""The audit trail of crisis events: who (a hashed session), when, which model and layer; never text.

Each crisis answer gives one JSON line in ``<data root>/audit/crisis-YYYY-MM-DD.jsonl`` (UTC date)
and one record on the logger ``careassist.audit``, for a log pipeline that ships it elsewhere. The
session id is an HMAC-SHA256 under ``session_hash_salt``: events of one session can be linked, but
the id cannot be recovered or confirmed without the secret. Every field comes from a closed set or
a checked pattern, so no caller can carry message text into the record by mistake.

``AuditFile`` is the append-only, per-day JSON-lines file behind it; the pipeline's audit trail
(``careassist.pipeline_audit``) writes through it too.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from careassist.taxonomy import CRISIS_KINDS

if TYPE_CHECKING:
    from careassist.settings import Settings

__all__ = ["AUDIT_LOGGER", "AuditFile", "AuditLog", "CrisisAuditRecord", "hash_session_id", "utc_timestamp"]

AUDIT_LOGGER = "careassist.audit"
CRISIS_LAYERS = ("rules", "model")
#: What a request id or model version may look like (a uuid, "7", "v1.2-rc"); anything else is dropped.
_TOKEN = re.compile(r"[A-Za-z0-9._:-]{1,64}")
UNKNOWN = "unknown"

log = logging.getLogger(AUDIT_LOGGER)


def hash_session_id(session_id: str, salt: str) -> str:
    """HMAC-SHA256 hex of a session id under the audit salt (a secret in production)."""
    return hmac.new(
        salt.encode("utf-8", "surrogatepass"), session_id.encode("utf-8", "surrogatepass"), hashlib.sha256
    ).hexdigest()


@dataclass(frozen=True)
class CrisisAuditRecord:
    """One crisis event as audited."""

    time: str
    request_id: str | None
    session_hash: str | None
    model_version: str | None
    crisis_layer: str
    crisis_kind: str | None
    event: str = "crisis"
    schema: int = 1

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _token(value: object) -> str | None:
    return value if isinstance(value, str) and _TOKEN.fullmatch(value) else None


def utc_timestamp(at: datetime) -> str:
    """``at`` in UTC, to the millisecond, with a ``Z``: the time format of every audit record."""
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class AuditFile:
    """An append-only audit trail: one JSON line per record in ``<directory>/<stream>-YYYY-MM-DD.jsonl``.

    Thread-safe; ``append`` never raises. Each record is one ``write`` of one line to a file opened
    for appending, so records of several processes do not interleave. A failed write is logged
    (without the record's contents) and counted in ``failures``: an audit problem must not fail the
    work it records. Every record also goes to the logger ``careassist.audit`` (field ``audit``).
    """

    def __init__(self, directory: Path, stream: str) -> None:
        self.directory = directory
        self.stream = stream
        self._lock = threading.Lock()
        self.written = 0
        self.failures = 0

    def path_for(self, at: datetime) -> Path:
        """The file of the UTC day of ``at``."""
        return self.directory / f"{self.stream}-{at.astimezone(UTC):%Y-%m-%d}.jsonl"

    def append(self, fields: Mapping[str, Any], at: datetime, message: str) -> bool:
        """Write one record to the file of ``at``'s day and log it as ``message``; False if not written."""
        line = json.dumps(fields, separators=(",", ":"), sort_keys=True) + "\n"
        path = self.path_for(at)
        written = False
        try:
            with self._lock:
                path.parent.mkdir(parents=True, exist_ok=True)
                with path.open("a", encoding="utf-8") as handle:
                    handle.write(line)
                    handle.flush()
                self.written += 1
            written = True
        except OSError as exc:
            with self._lock:
                self.failures += 1
            log.error("%s audit record not written to %s: %s", self.stream, path, exc.strerror or type(exc).__name__)
        log.info(message, extra={"audit": dict(fields)})
        return written


class AuditLog:
    """Appends crisis records to the day's file (``AuditFile``); thread-safe; ``record_crisis`` never raises."""

    def __init__(self, settings: Settings) -> None:
        self._file = AuditFile(settings.root / "audit", "crisis")
        self.directory: Path = self._file.directory
        self._salt = settings.session_hash_salt

    @property
    def written(self) -> int:
        return self._file.written

    @property
    def failures(self) -> int:
        return self._file.failures

    def path_for(self, at: datetime) -> Path:
        """The file of the UTC day of ``at``."""
        return self._file.path_for(at)

    def record_crisis(
        self,
        *,
        request_id: str | None,
        session_id: str | None,
        model_version: str | None,
        layer: str | None,
        kind: str | None,
        at: datetime | None = None,
    ) -> CrisisAuditRecord:
        """Write and log the record of one crisis answer; returns it (as written).

        ``layer`` and ``kind`` are the answer's ``crisis_layer`` ("rules" or "model") and
        ``crisis_kind`` (one of ``taxonomy.CRISIS_KINDS``, None from the model layer).
        """
        when = (at or datetime.now(UTC)).astimezone(UTC)
        session = session_id if isinstance(session_id, str) and session_id else None
        record = CrisisAuditRecord(
            time=utc_timestamp(when),
            request_id=_token(request_id),
            session_hash=None if session is None else hash_session_id(session, self._salt),
            model_version=_token(model_version),
            crisis_layer=layer if layer in CRISIS_LAYERS else UNKNOWN,
            crisis_kind=None if kind is None else kind if kind in CRISIS_KINDS else UNKNOWN,
        )
        self._file.append(record.as_dict(), when, "crisis event")
        return record
