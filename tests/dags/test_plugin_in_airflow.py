"""The CareAssist plugin as Airflow itself loads and calls it, in child processes with the profile's
Airflow environment: ``airflow plugins`` lists it with its links and listener, and a real
``airflow dags test`` run leaves its events in the pipeline audit trail.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from careassist import links
from careassist.orchestration import PLUGINS_FOLDER, airflow_command, run_environment
from careassist.settings import Settings, load_settings

pytestmark = pytest.mark.dags

#: A DAG of two tasks, the second failing with personal data in its message (which must not be audited).
PROBE_DAG = """
from datetime import UTC, datetime

from airflow.sdk import dag, task


@dag(dag_id="audit_probe", schedule=None, start_date=datetime(2026, 11, 1, tzinfo=UTC), catchup=False)
def audit_probe():
    @task(retries=0)
    def fine():
        return None

    @task(retries=0)
    def broken():
        raise ValueError("row 3 of batch.csv: Jane Doe, 555-123-4567")

    fine() >> broken()


audit_probe()
"""
LOGICAL_DATE = "2026-11-20T03:00:00+00:00"


def _tail(result: subprocess.CompletedProcess[str]) -> str:
    return (result.stdout + result.stderr)[-4000:]


def test_airflow_lists_the_plugin_with_its_links_and_listener(tmp_path: Path) -> None:
    settings = load_settings(data_root=tmp_path / "platform", mlflow_port=5123, api_port=8456)
    # Through the launcher, as an operator runs it: the profile's settings travel as CAREASSIST_* variables.
    result = subprocess.run(
        [sys.executable, "-m", "careassist.orchestration", "plugins", "--output", "json"],
        env={**os.environ, **settings.environment()},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, _tail(result)
    plugins = json.loads(result.stdout[result.stdout.index("[") :])
    (plugin,) = [p for p in plugins if p["name"] == "careassist"]
    assert plugin["source"].endswith("careassist_plugin.py")
    assert plugin["listeners"] == ["careassist.pipeline_audit"]
    assert [(v["name"], v["href"], v["category"]) for v in plugin["external_views"]] == [
        ("MLflow model healthcare-assistant", "http://127.0.0.1:5123/#/models/healthcare-assistant", "browse"),
        ("Assistant API (OpenAPI)", "http://127.0.0.1:8456/openapi.json", "docs"),
    ]
    assert plugin["external_views"][0]["href"] == links.mlflow_model_url(settings)


@pytest.fixture(scope="module")
def probe_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, subprocess.CompletedProcess[str]]:
    """``airflow dags test`` of the probe DAG on a fresh embedded profile (SQLite metadata)."""
    root = tmp_path_factory.mktemp("plugin")
    dags = root / "dags"
    dags.mkdir()
    (dags / "audit_probe.py").write_text(PROBE_DAG, encoding="utf-8")
    settings = load_settings(data_root=root / "platform")
    settings.airflow_home.mkdir(parents=True)
    # The platform's plugins folder, a DAG folder of the probe alone.
    environment = run_environment(settings) | {"AIRFLOW__CORE__DAGS_FOLDER": str(dags)}
    assert environment["AIRFLOW__CORE__PLUGINS_FOLDER"] == str(PLUGINS_FOLDER)
    migrate = subprocess.run(
        airflow_command(["db", "migrate"]), env=environment, capture_output=True, text=True, timeout=300, check=False
    )
    assert migrate.returncode == 0, _tail(migrate)
    run = subprocess.run(
        airflow_command(["dags", "test", "audit_probe", LOGICAL_DATE]),
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return settings, run


@pytest.mark.slow
def test_a_dags_test_run_leaves_its_task_and_run_events_in_the_audit_trail(
    probe_run: tuple[Settings, subprocess.CompletedProcess[str]],
) -> None:
    settings, run = probe_run
    assert run.returncode != 0, _tail(run)  # the run failed, as the probe DAG means it to
    files = sorted((settings.root / "audit").glob("pipeline-*.jsonl"))
    assert files, _tail(run)
    records = [json.loads(line) for path in files for line in path.read_text(encoding="utf-8").splitlines()]
    events = [(r["event"], r["task_id"], r["state"], r["error_type"]) for r in records]
    # `dags test` starts its run itself (no dag_run_started; the scheduler sends that one).
    assert events == [
        ("task_succeeded", "fine", "success", None),
        ("task_failed", "broken", "failed", "ValueError"),
        ("dag_run_failed", None, "failed", None),
    ]
    assert {(r["dag_id"], r["run_id"].split("__")[0]) for r in records} == {("audit_probe", "manual")}
    assert records[-1]["reason"] == "task_failure"
    assert all(r["start_date"] and r["end_date"] for r in records)
    raw = "".join(path.read_text(encoding="utf-8") for path in files)
    assert "Jane" not in raw and "555" not in raw and "batch.csv" not in raw
