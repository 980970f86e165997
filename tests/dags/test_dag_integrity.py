"""DAG integrity: every DAG file imports cleanly, with owner, retries, tags and the intended structure.

The DagBag is filled in a child process with the profile's Airflow environment, as the scheduler
would, so the test session's own imports and configuration do not leak into Airflow's.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest

from careassist.orchestration import DAGS_FOLDER, run_environment

HEAVY = ("mlflow", "feast", "great_expectations", "sklearn", "pandas")

_PROBE = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
dags = {}
def asset_names(condition):
    if hasattr(condition, "objects"):
        return sorted(name for part in condition.objects for name in asset_names(part))
    return [getattr(condition, "name", "")] if condition is not None else []
for dag_id, dag in bag.dags.items():
    dags[dag_id] = {
        "tags": sorted(dag.tags), "timetable": type(dag.timetable).__name__, "catchup": dag.catchup,
        "max_active_runs": dag.max_active_runs,
        "schedule_assets": asset_names(getattr(dag.timetable, "asset_condition", None)),
        "any_asset": type(getattr(dag.timetable, "asset_condition", None)).__name__ == "AssetAny",
        "tasks": {t.task_id: {"owner": t.owner, "retries": t.retries, "downstream": sorted(t.downstream_task_ids),
                             "outlets": [getattr(o, "name", "") for o in t.outlets]} for t in dag.tasks},
    }
heavy = sorted(name for name in sys.argv[2].split(",") if name in sys.modules)
print(json.dumps({"errors": {k: str(v) for k, v in bag.import_errors.items()}, "dags": dags, "heavy": heavy}))
"""

pytestmark = pytest.mark.dags


@pytest.fixture(scope="module")
def dagbag(tmp_path_factory: pytest.TempPathFactory) -> dict:  # type: ignore[type-arg]
    from careassist.settings import load_settings

    settings = load_settings(data_root=tmp_path_factory.mktemp("airflow"))
    completed = subprocess.run(
        [sys.executable, "-c", _PROBE, str(DAGS_FOLDER), ",".join(HEAVY)],
        env=run_environment(settings), capture_output=True, text=True, timeout=120, check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_every_dag_file_imports_without_errors(dagbag: dict) -> None:  # type: ignore[type-arg]
    assert dagbag["errors"] == {}
    files = {p.stem for p in Path(DAGS_FOLDER).glob("*.py")}
    assert set(dagbag["dags"]) == files == {"training_pipeline", "feature_materialization", "raw_data_watch",
                                            "drift_detection"}


def test_dag_files_do_not_import_heavy_libraries_at_parse_time(dagbag: dict) -> None:  # type: ignore[type-arg]
    # The scheduler parses DAG files often: the steps import their libraries when they run.
    assert dagbag["heavy"] == []


def test_every_task_has_an_owner_and_retries_and_every_dag_tags(dagbag: dict) -> None:  # type: ignore[type-arg]
    for dag_id, dag in dagbag["dags"].items():
        assert "careassist" in dag["tags"], dag_id
        assert dag["catchup"] is False and dag["max_active_runs"] == 1, dag_id
        for task_id, task in dag["tasks"].items():
            assert task["owner"] == "careassist-mlops", (dag_id, task_id)
            assert task["retries"] >= 1, (dag_id, task_id)


def test_training_pipeline_runs_its_steps_in_order(dagbag: dict) -> None:  # type: ignore[type-arg]
    dag = dagbag["dags"]["training_pipeline"]
    tasks = dag["tasks"]
    order = ["ingest", "validate", "training_set", "train", "evaluate", "gate", "register", "promote"]
    for before, after in itertools.pairwise(order):
        assert after in tasks[before]["downstream"], (before, after)
    assert tasks["validate"]["downstream"] == ["train", "training_set"]
    assert tasks["promote"]["downstream"] == []
    # Data-aware and daily.
    assert dag["timetable"] == "AssetOrTimeSchedule"


def test_the_raw_watch_emits_the_asset_the_training_pipeline_waits_for(dagbag: dict) -> None:  # type: ignore[type-arg]
    from careassist.orchestration import RAW_ASSET_NAME

    watch = dagbag["dags"]["raw_data_watch"]["tasks"]["detect_new_raw_data"]
    assert watch["outlets"] == [RAW_ASSET_NAME]


def test_materialization_owns_explicit_intervals(dagbag: dict) -> None:  # type: ignore[type-arg]
    assert dagbag["dags"]["feature_materialization"]["timetable"] == "CronDataIntervalTimetable"


def test_the_training_pipeline_runs_on_either_asset(dagbag: dict) -> None:  # type: ignore[type-arg]
    from careassist.orchestration import DRIFT_ASSET_NAME, RAW_ASSET_NAME

    dag = dagbag["dags"]["training_pipeline"]
    assert dag["schedule_assets"] == sorted([RAW_ASSET_NAME, DRIFT_ASSET_NAME])
    assert dag["any_asset"], "new raw data or drift alone must start a run, not both together"


def test_drift_detection_collects_compares_then_reports_with_the_retrain_asset(dagbag: dict) -> None:  # type: ignore[type-arg]
    from careassist.orchestration import DRIFT_ASSET_NAME

    dag = dagbag["dags"]["drift_detection"]
    tasks = dag["tasks"]
    assert dag["timetable"] == "CronDataIntervalTimetable"
    assert tasks["collect_traffic"]["downstream"] == ["compare_with_baseline"]
    assert tasks["compare_with_baseline"]["downstream"] == ["report_drift"]
    assert tasks["report_drift"]["downstream"] == []
    assert tasks["report_drift"]["outlets"] == [DRIFT_ASSET_NAME]
    assert [t["outlets"] for name, t in tasks.items() if name != "report_drift"] == [[], []]
