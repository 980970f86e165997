"""The crisis audit trail (hashed sessions, no text) and the service's redacted JSON logs."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from careassist.audit import AUDIT_LOGGER, AuditLog, hash_session_id
from careassist.logs import JsonFormatter, configure_json_logging

pytestmark = pytest.mark.unit

SESSION = "session-8f2e-jane.doe"
AT = datetime(2026, 10, 1, 23, 30, tzinfo=UTC)
REQUEST_ID = "3f0c8a9e-7d41-4b8e-9a3c-123456789012"  # its last group is twelve digits


def audit_lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# -- audit --------------------------------------------------------------------------------------
def test_session_hash_is_keyed_and_stable() -> None:
    first = hash_session_id(SESSION, "salt-a")
    assert first == hash_session_id(SESSION, "salt-a") and len(first) == 64
    assert first != hash_session_id(SESSION, "salt-b") and first != hash_session_id(SESSION + "x", "salt-a")


def test_a_crisis_event_is_written_without_the_raw_session_id(settings) -> None:  # type: ignore[no-untyped-def]
    audit = AuditLog(settings)
    record = audit.record_crisis(
        request_id=REQUEST_ID,
        session_id=SESSION,
        model_version="7",
        layer="rules",
        kind="ideation_explicit",
        at=AT,
    )
    path = settings.root / "audit" / "crisis-2026-10-01.jsonl"
    assert audit.path_for(AT) == path
    (line,) = audit_lines(path)
    assert line == {
        "event": "crisis",
        "schema": 1,
        "time": "2026-10-01T23:30:00.000Z",
        "request_id": REQUEST_ID,
        "session_hash": hash_session_id(SESSION, settings.session_hash_salt),
        "model_version": "7",
        "crisis_layer": "rules",
        "crisis_kind": "ideation_explicit",
    }
    assert line == record.as_dict()
    raw = path.read_text(encoding="utf-8")
    assert SESSION not in raw and "jane" not in raw


def test_records_append_per_utc_day_and_a_model_layer_hit_has_no_kind(settings) -> None:  # type: ignore[no-untyped-def]
    audit = AuditLog(settings)
    local = timezone(timedelta(hours=-5))
    audit.record_crisis(request_id="r1", session_id=None, model_version=None, layer="rules", kind="overdose", at=AT)
    audit.record_crisis(
        request_id="r2",
        session_id=SESSION,
        model_version="8",
        layer="model",
        kind=None,
        at=datetime(2026, 10, 1, 20, 0, tzinfo=local),  # 01:00 UTC on the next day
    )
    audit.record_crisis(request_id="r3", session_id="", model_version="8", layer="model", kind=None, at=AT)
    first_day = audit_lines(settings.root / "audit" / "crisis-2026-10-01.jsonl")
    assert [(r["request_id"], r["session_hash"], r["model_version"]) for r in first_day] == [
        ("r1", None, None),
        ("r3", None, "8"),
    ]
    (next_day,) = audit_lines(settings.root / "audit" / "crisis-2026-10-02.jsonl")
    assert next_day["crisis_layer"] == "model" and next_day["crisis_kind"] is None
    assert next_day["time"] == "2026-10-02T01:00:00.000Z"


def test_free_text_cannot_reach_the_record(settings) -> None:  # type: ignore[no-untyped-def]
    text = "I took all of my pills call me at 555-123-4567"
    audit = AuditLog(settings)
    record = audit.record_crisis(request_id=text, session_id=SESSION, model_version=text, layer=text, kind=text, at=AT)
    assert (record.request_id, record.model_version, record.crisis_layer, record.crisis_kind) == (
        None,
        None,
        "unknown",
        "unknown",
    )
    raw = audit.path_for(AT).read_text(encoding="utf-8")
    assert "pills" not in raw and "555" not in raw


def test_concurrent_records_are_whole_lines(settings) -> None:  # type: ignore[no-untyped-def]
    audit = AuditLog(settings)

    def write(worker: int) -> None:
        for i in range(50):
            audit.record_crisis(
                request_id=f"w{worker}-{i}",
                session_id=f"s{worker}",
                model_version="7",
                layer="rules",
                kind="self_harm",
                at=AT,
            )

    threads = [threading.Thread(target=write, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = audit_lines(audit.path_for(AT))
    assert len(lines) == 300 and len({line["request_id"] for line in lines}) == 300
    assert audit.written == 300 and audit.failures == 0


def test_records_go_to_the_audit_logger(settings, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.INFO, logger=AUDIT_LOGGER)
    AuditLog(settings).record_crisis(
        request_id="r1", session_id=SESSION, model_version="7", layer="rules", kind="self_harm", at=AT
    )
    (entry,) = [r for r in caplog.records if r.name == AUDIT_LOGGER]
    assert entry.audit["crisis_kind"] == "self_harm"  # type: ignore[attr-defined]
    assert SESSION not in caplog.text


def test_an_unwritable_folder_is_counted_not_raised(settings, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    settings.root.mkdir(parents=True)
    (settings.root / "audit").write_text("a file where the folder should be", encoding="utf-8")
    audit = AuditLog(settings)
    caplog.set_level(logging.INFO, logger=AUDIT_LOGGER)
    record = audit.record_crisis(
        request_id="r1", session_id=SESSION, model_version="7", layer="rules", kind="overdose", at=AT
    )
    assert record.crisis_kind == "overdose" and audit.failures == 1 and audit.written == 0
    assert any(r.levelno == logging.ERROR for r in caplog.records)
    assert any(getattr(r, "audit", None) for r in caplog.records)  # the logger copy still goes out


# -- JSON logs ----------------------------------------------------------------------------------
@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    """The root logger, with its handlers and level restored afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield root
    root.handlers[:] = handlers
    root.setLevel(level)


def test_logs_are_json_with_pii_redacted(root_logger: logging.Logger) -> None:
    stream = io.StringIO()
    configure_json_logging("INFO", stream=stream)
    log = logging.getLogger("careassist.test")
    log.info(
        "reply failed for jane.doe@example.com, call %s",
        "(555) 123-4567",
        extra={"endpoint": "assist", "status": 200, "detail": {"note": "mail bob@example.org"}, "ids": [REQUEST_ID]},
    )
    log.debug("not shown")
    (line,) = stream.getvalue().splitlines()
    entry = json.loads(line)
    assert entry["level"] == "INFO" and entry["logger"] == "careassist.test" and entry["time"].endswith("Z")
    assert entry["message"] == "reply failed for [EMAIL], call [PHONE]"
    assert entry["endpoint"] == "assist" and entry["status"] == 200
    assert entry["detail"] == {"note": "mail [EMAIL]"} and entry["ids"] == [REQUEST_ID]
    assert "example.com" not in line and "123-4567" not in line


def test_tracebacks_are_redacted_too(root_logger: logging.Logger) -> None:
    stream = io.StringIO()
    configure_json_logging(logging.WARNING, stream=stream)
    try:
        raise ValueError("bad row for 555-867-5309")
    except ValueError:
        logging.getLogger("careassist.test").exception("failed")
    entry = json.loads(stream.getvalue())
    assert "ValueError: bad row for [PHONE]" in entry["exception"] and "5309" not in stream.getvalue()


def test_configuring_twice_installs_one_handler(root_logger: logging.Logger) -> None:
    before = len(root_logger.handlers)
    first = configure_json_logging("INFO", stream=io.StringIO())
    second_stream = io.StringIO()
    second = configure_json_logging("warning", stream=second_stream)
    assert first is second and len(root_logger.handlers) == before + 1
    assert root_logger.level == logging.WARNING
    logging.getLogger("careassist.test").warning("once")
    assert len(second_stream.getvalue().splitlines()) == 1


def test_the_formatter_survives_a_bad_format_string() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "value %d for a@b.co", ("not a number",), None)
    entry = json.loads(JsonFormatter().format(record))
    assert "[EMAIL]" in entry["message"] and "a@b.co" not in entry["message"]
