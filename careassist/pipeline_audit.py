"""The audit trail of the pipelines: DAG runs started, succeeded or failed; tasks succeeded or failed.

Airflow calls the hooks of this module (registered by ``plugins/careassist_plugin.py``) in the
process where the state changes: the scheduler (a run starts or ends), the task runner (a task
ends; under ``airflow dags test`` the runner is the test's own process) and the API server (a run
or a task marked by hand). Each event gives one JSON line in
``<data root>/audit/pipeline-YYYY-MM-DD.jsonl`` (UTC date; ``audit.AuditFile``, as the crisis
trail) and one record on the logger ``careassist.audit``.

A record holds identifiers, states and times only: never a run's conf, params, XCom values or an
error's message (a failure keeps the exception's type name). Every identifier is checked against
Airflow's own id pattern, so nothing free-form reaches the file. A hook never raises: an audit
problem must not fail the run it records.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

from careassist.audit import AUDIT_LOGGER, UNKNOWN, AuditFile, utc_timestamp

if TYPE_CHECKING:
    from careassist.settings import Settings

__all__ = [
    "EVENTS",
    "PipelineAudit",
    "PipelineAuditRecord",
    "on_dag_run_failed",
    "on_dag_run_running",
    "on_dag_run_success",
    "on_task_instance_failed",
    "on_task_instance_success",
]

STREAM = "pipeline"
EVENTS = ("dag_run_started", "dag_run_succeeded", "dag_run_failed", "task_succeeded", "task_failed")
#: Airflow's ids (dag, task, run: ``manual__2026-11-20T03:00:00+00:00``) and its states and reasons.
_ID = re.compile(r"[\w.~:+@-]{1,250}")

log = logging.getLogger(AUDIT_LOGGER)

#: The marker Airflow's listener managers collect (``airflow.listeners.hookimpl`` is this same
#: ``pluggy.HookimplMarker("airflow")``); importing it from Airflow would initialise Airflow (its
#: logging, ORM and configuration) in every process that imports this module.
hookimpl = pluggy.HookimplMarker("airflow")


@dataclass(frozen=True)
class PipelineAuditRecord:
    """One pipeline event as audited; ``task_id`` and the task fields are None for a DAG run."""

    time: str
    event: str
    dag_id: str
    run_id: str
    state: str
    start_date: str | None
    end_date: str | None
    task_id: str | None = None
    map_index: int | None = None
    try_number: int | None = None
    reason: str | None = None
    error_type: str | None = None
    schema: int = 1

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _identifier(value: object) -> str | None:
    """An id or state as Airflow spells it (enums by value), or None when it is anything else."""
    value = getattr(value, "value", value)
    return value if isinstance(value, str) and _ID.fullmatch(value) else None


def _time(value: object) -> str | None:
    return utc_timestamp(value) if isinstance(value, datetime) and value.tzinfo is not None else None


def _number(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class PipelineAudit:
    """Writes pipeline events to the day's file under ``<data root>/audit``; never raises."""

    def __init__(self, settings: Settings) -> None:
        self.file = AuditFile(settings.root / "audit", STREAM)

    def record(
        self,
        event: str,
        *,
        dag_id: object,
        run_id: object,
        state: object,
        start_date: object = None,
        end_date: object = None,
        task_id: object = None,
        map_index: object = None,
        try_number: object = None,
        reason: object = None,
        error: object = None,
        at: datetime | None = None,
    ) -> PipelineAuditRecord:
        """Write and log one event (one of ``EVENTS``); returns the record as written."""
        if event not in EVENTS:
            raise ValueError(f"unknown pipeline audit event {event!r}: expected one of {', '.join(EVENTS)}")
        when = (at or datetime.now(UTC)).astimezone(UTC)
        record = PipelineAuditRecord(
            time=utc_timestamp(when),
            event=event,
            dag_id=_identifier(dag_id) or UNKNOWN,
            run_id=_identifier(run_id) or UNKNOWN,
            state=_identifier(state) or UNKNOWN,
            start_date=_time(start_date),
            end_date=_time(end_date),
            task_id=None if task_id is None else _identifier(task_id) or UNKNOWN,
            map_index=_number(map_index),
            try_number=_number(try_number),
            reason=_identifier(reason),
            error_type=type(error).__name__ if isinstance(error, BaseException) else None,
        )
        self.file.append(record.as_dict(), when, f"pipeline event {event}")
        return record

    def record_dag_run(self, event: str, dag_run: object, msg: object = None) -> PipelineAuditRecord:
        """The event of a ``DagRun`` (Airflow's ``msg``, e.g. ``task_failure``, is kept as the reason)."""
        return self.record(
            event,
            dag_id=getattr(dag_run, "dag_id", None),
            run_id=getattr(dag_run, "run_id", None),
            state=getattr(dag_run, "state", None),
            start_date=getattr(dag_run, "start_date", None),
            end_date=getattr(dag_run, "end_date", None),
            reason=msg,
        )

    def record_task(
        self, event: str, task_instance: object, fallback_state: str, error: object = None
    ) -> PipelineAuditRecord:
        """The event of a task instance (the runner's ``RuntimeTaskInstance`` or the API's ``TaskInstance``)."""
        return self.record(
            event,
            dag_id=getattr(task_instance, "dag_id", None),
            run_id=getattr(task_instance, "run_id", None),
            state=getattr(task_instance, "state", None) or fallback_state,
            start_date=getattr(task_instance, "start_date", None),
            end_date=getattr(task_instance, "end_date", None),
            task_id=getattr(task_instance, "task_id", None),
            map_index=getattr(task_instance, "map_index", None),
            try_number=getattr(task_instance, "try_number", None),
            error=error,
        )


_audits: dict[Path, PipelineAudit] = {}
_audits_lock = threading.Lock()


def current_audit() -> PipelineAudit | None:
    """The trail of this process's settings (one per data root), or None when the settings are invalid."""
    from careassist.settings import SettingsError, get_settings

    try:
        settings = get_settings()
    except SettingsError as exc:
        log.error("pipeline audit disabled: %s", exc)
        return None
    with _audits_lock:
        if settings.root not in _audits:
            _audits[settings.root] = PipelineAudit(settings)
        return _audits[settings.root]


def _safely(write: Any, *args: Any, **kwargs: Any) -> None:
    """Run one hook's write; anything unexpected is logged, never raised into Airflow."""
    try:
        audit = current_audit()
        if audit is not None:
            write(audit, *args, **kwargs)
    except Exception:  # a listener must not fail the scheduler, the task or the API call it observes
        log.exception("pipeline audit record not written")


# -- Airflow listener hooks (names and parameters are Airflow 3's hookspecs) -------------------------
@hookimpl
def on_dag_run_running(dag_run: Any, msg: str) -> None:
    """A run started (the scheduler; ``airflow dags test`` starts its run without this event)."""
    _safely(PipelineAudit.record_dag_run, "dag_run_started", dag_run, msg)


@hookimpl
def on_dag_run_success(dag_run: Any, msg: str) -> None:
    _safely(PipelineAudit.record_dag_run, "dag_run_succeeded", dag_run, msg)


@hookimpl
def on_dag_run_failed(dag_run: Any, msg: str) -> None:
    _safely(PipelineAudit.record_dag_run, "dag_run_failed", dag_run, msg)


@hookimpl
def on_task_instance_success(previous_state: Any, task_instance: Any) -> None:
    _safely(PipelineAudit.record_task, "task_succeeded", task_instance, "success")


@hookimpl
def on_task_instance_failed(previous_state: Any, task_instance: Any, error: Any) -> None:
    """A try failed: the state says whether a retry follows (``up_for_retry``) or not (``failed``)."""
    _safely(PipelineAudit.record_task, "task_failed", task_instance, "failed", error)
