"""The Airflow plugin's parts in the package: the UI links from the settings, and the pipeline audit listener.

Airflow itself is not imported here (it would set up its logging and database in the test process);
``tests/dags/test_plugin_in_airflow.py`` checks the plugin as Airflow loads and calls it.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from enum import Enum
from pathlib import Path
from types import SimpleNamespace

import pytest

from careassist import links, pipeline_audit
from careassist.audit import AuditLog
from careassist.pipeline_audit import PipelineAudit

pytestmark = pytest.mark.unit

START = datetime(2026, 11, 20, 3, 0, 1, 250000, tzinfo=UTC)
END = START + timedelta(minutes=4)
RUN_ID = "scheduled__2026-11-20T03:00:00+00:00"
HOOKS = (
    "on_dag_run_running",
    "on_dag_run_success",
    "on_dag_run_failed",
    "on_task_instance_success",
    "on_task_instance_failed",
)


class State(str, Enum):
    """Airflow's states are str enums (``TaskInstanceState.SUCCESS.value == "success"``)."""

    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    UP_FOR_RETRY = "up_for_retry"


def dag_run(state: State, **extra: object) -> SimpleNamespace:
    values: dict[str, object] = {
        "dag_id": "training_pipeline",
        "run_id": RUN_ID,
        "state": state,
        "start_date": START,
        "end_date": END,
        "conf": {"note": "do not copy me"},
    }
    return SimpleNamespace(**(values | extra))


def task_instance(state: State | None, **extra: object) -> SimpleNamespace:
    values: dict[str, object] = {
        "dag_id": "training_pipeline",
        "run_id": RUN_ID,
        "task_id": "validate",
        "map_index": -1,
        "try_number": 1,
        "state": state,
        "start_date": START,
        "end_date": END,
    }
    return SimpleNamespace(**(values | extra))


def audit_lines(root: Path) -> list[dict[str, object]]:
    return [
        json.loads(line)
        for path in sorted((root / "audit").glob("pipeline-*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
    ]


@pytest.fixture
def data_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The process's settings (as in an Airflow process: from CAREASSIST_* variables) on a temp root."""
    from careassist.settings import get_settings

    root = tmp_path / "platform"
    monkeypatch.setenv("CAREASSIST_DATA_ROOT", str(root))
    get_settings.cache_clear()
    return root


# -- links ------------------------------------------------------------------------------------------
def test_default_links_are_the_local_mlflow_model_page_and_the_api_document(make_settings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings()
    assert links.mlflow_model_url(settings) == "http://127.0.0.1:5000/#/models/healthcare-assistant"
    assert links.api_docs_url(settings) == "http://127.0.0.1:8000/openapi.json"


def test_links_follow_the_ports_host_model_name_and_tracking_server(make_settings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(mlflow_port=5055, api_port=9100, api_host="10.1.2.3", model_name="assistant-b")
    assert links.mlflow_model_url(settings) == "http://10.1.2.3:5055/#/models/assistant-b"
    assert links.api_docs_url(settings) == "http://10.1.2.3:9100/openapi.json"
    served = make_settings(mlflow_uri="https://mlflow.care.example/")
    assert links.mlflow_model_url(served) == "https://mlflow.care.example/#/models/healthcare-assistant"


@pytest.mark.parametrize(
    ("host", "expected"),
    [("0.0.0.0", "127.0.0.1"), ("::", "127.0.0.1"), ("::1", "[::1]"), ("assistant.internal", "assistant.internal")],
)
def test_a_listening_address_becomes_one_a_browser_can_open(make_settings, host: str, expected: str) -> None:  # type: ignore[no-untyped-def]
    assert links.api_url(make_settings(api_host=host)) == f"http://{expected}:8000"


def test_external_views_are_new_tab_links_in_the_browse_and_docs_menus(make_settings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(api_port=8123)
    views = links.airflow_external_views(settings)
    assert [(v["name"], v["href"], v["category"]) for v in views] == [
        ("MLflow model healthcare-assistant", "http://127.0.0.1:5000/#/models/healthcare-assistant", "browse"),
        ("Assistant API (OpenAPI)", "http://127.0.0.1:8123/openapi.json", "docs"),
    ]
    # Airflow embeds a view with a url_route in an iframe; these open the page itself.
    assert all(v["destination"] == "nav" and "url_route" not in v for v in views)


def test_external_views_come_from_the_process_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAREASSIST_MLFLOW_PORT", "5999")
    assert links.airflow_external_views()[0]["href"] == "http://127.0.0.1:5999/#/models/healthcare-assistant"


def test_invalid_settings_give_no_links_instead_of_a_broken_plugin(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("CAREASSIST_PROFILE", "staging")
    assert links.airflow_external_views() == []
    assert "CAREASSIST_PROFILE" in caplog.text


# -- the pipeline audit listener -------------------------------------------------------------------
def test_the_hooks_are_marked_for_airflows_listener_manager() -> None:
    for name in HOOKS:
        hook = getattr(pipeline_audit, name)
        assert getattr(hook, "airflow_impl", None) is not None, name  # pluggy's mark of project "airflow"


def test_dag_run_events_are_written_with_ids_states_and_times_only(data_root: Path) -> None:
    pipeline_audit.on_dag_run_running(dag_run=dag_run(State.RUNNING, end_date=None), msg="started")
    pipeline_audit.on_dag_run_success(dag_run=dag_run(State.SUCCESS), msg="success")
    pipeline_audit.on_dag_run_failed(dag_run=dag_run(State.FAILED), msg="task_failure")
    started, succeeded, failed = audit_lines(data_root)
    assert succeeded == {
        "schema": 1,
        "time": succeeded["time"],
        "event": "dag_run_succeeded",
        "dag_id": "training_pipeline",
        "run_id": RUN_ID,
        "state": "success",
        "start_date": "2026-11-20T03:00:01.250Z",
        "end_date": "2026-11-20T03:04:01.250Z",
        "task_id": None,
        "map_index": None,
        "try_number": None,
        "reason": "success",
        "error_type": None,
    }
    assert (started["event"], started["state"], started["end_date"]) == ("dag_run_started", "running", None)
    assert (failed["event"], failed["state"], failed["reason"]) == ("dag_run_failed", "failed", "task_failure")
    assert str(succeeded["time"]).endswith("Z")
    assert "do not copy me" not in "".join(p.read_text(encoding="utf-8") for p in (data_root / "audit").iterdir())


def test_task_events_say_whether_a_retry_follows_and_keep_no_error_message(data_root: Path) -> None:
    pipeline_audit.on_task_instance_success(previous_state=State.RUNNING, task_instance=task_instance(State.SUCCESS))
    error = ValueError("row 7 of batch.csv: 'Jane Doe, 555-123-4567' is not a category")
    pipeline_audit.on_task_instance_failed(
        previous_state=State.RUNNING, task_instance=task_instance(State.UP_FOR_RETRY, try_number=1), error=error
    )
    pipeline_audit.on_task_instance_failed(
        previous_state=State.RUNNING, task_instance=task_instance(State.FAILED, try_number=3), error=error
    )
    # The API server passes the error as text when a task is marked failed by hand: no type to keep.
    pipeline_audit.on_task_instance_failed(previous_state=None, task_instance=task_instance(None), error="by hand")
    succeeded, retried, failed, marked = audit_lines(data_root)
    assert {k: succeeded[k] for k in ("event", "task_id", "map_index", "try_number", "state", "error_type")} == {
        "event": "task_succeeded",
        "task_id": "validate",
        "map_index": -1,
        "try_number": 1,
        "state": "success",
        "error_type": None,
    }
    assert (retried["event"], retried["state"], retried["try_number"], retried["error_type"]) == (
        "task_failed",
        "up_for_retry",
        1,
        "ValueError",
    )
    assert (failed["state"], failed["try_number"]) == ("failed", 3)
    assert (marked["state"], marked["error_type"]) == ("failed", None)  # no state on the object: the event's
    raw = "".join(p.read_text(encoding="utf-8") for p in (data_root / "audit").iterdir())
    assert "Jane" not in raw and "555" not in raw and "batch.csv" not in raw and "by hand" not in raw


def test_free_text_in_an_id_does_not_reach_the_record(settings) -> None:  # type: ignore[no-untyped-def]
    audit = PipelineAudit(settings)
    record = audit.record_task(
        "task_failed",
        task_instance(State.FAILED, run_id='manual run for Jane Doe\n{"x": 1}', task_id="ok", try_number=True),
        "failed",
    )
    assert (record.run_id, record.task_id, record.try_number) == ("unknown", "ok", None)
    assert "Jane" not in audit.file.path_for(datetime.now(UTC)).read_text(encoding="utf-8")
    with pytest.raises(ValueError, match="dag_run_paused"):
        audit.record("dag_run_paused", dag_id="d", run_id="r", state="success")


def test_records_append_to_the_utc_days_file_beside_the_crisis_trail(settings) -> None:  # type: ignore[no-untyped-def]
    audit = PipelineAudit(settings)
    late = datetime(2026, 11, 20, 23, 59, 59, 999000, tzinfo=UTC)
    for at in (late, late + timedelta(seconds=1)):
        audit.record("dag_run_succeeded", dag_id="training_pipeline", run_id=RUN_ID, state="success", at=at)
    assert sorted(p.name for p in (settings.root / "audit").iterdir()) == [
        "pipeline-2026-11-20.jsonl",
        "pipeline-2026-11-21.jsonl",
    ]
    assert audit.file.written == 2 and audit.file.failures == 0
    assert audit.file.directory == AuditLog(settings).directory


def test_records_go_to_the_audit_logger(data_root: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="careassist.audit")
    pipeline_audit.on_dag_run_failed(dag_run=dag_run(State.FAILED), msg="task_failure")
    (entry,) = [r for r in caplog.records if r.name == "careassist.audit"]
    assert entry.audit["event"] == "dag_run_failed" and entry.audit["run_id"] == RUN_ID  # type: ignore[attr-defined]


def test_a_listener_never_raises_into_airflow(
    data_root: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # An unwritable audit folder: counted and logged.
    data_root.mkdir(parents=True)
    (data_root / "audit").write_text("a file where the folder should be", encoding="utf-8")
    pipeline_audit.on_task_instance_success(previous_state=None, task_instance=task_instance(State.SUCCESS))
    audit = pipeline_audit.current_audit()
    assert audit is not None and audit.file.failures == 1
    # An object without the expected attributes: recorded as unknown, not raised.
    pipeline_audit.on_dag_run_success(dag_run=object(), msg="success")
    assert audit.file.failures == 2
    # Invalid settings: nothing written, an error logged.
    from careassist.settings import get_settings

    monkeypatch.setenv("CAREASSIST_PROFILE", "staging")
    get_settings.cache_clear()
    caplog.set_level(logging.ERROR, logger="careassist.audit")
    pipeline_audit.on_dag_run_failed(dag_run=dag_run(State.FAILED), msg="task_failure")
    assert "pipeline audit disabled" in caplog.text
