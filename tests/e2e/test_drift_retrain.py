"""Served traffic that drifts triggers the training pipeline; traffic like the baseline does not.

On an embedded platform, a small model is registered with its baseline and promoted. Traffic goes
through the HTTP service (in process) and its real traffic recorder: at one hour, messages drawn
from the held-out split the baseline was counted on; at a later hour, shifted messages (nearly all
about falls, long, full of words the model never saw). ``airflow dags test drift_detection`` runs
for each hour's window. The first run reports no drift and emits nothing; the second reports drift,
emits the drift asset event, and Airflow queues ``training_pipeline`` for it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from careassist import drift, lifecycle, registry
from careassist.orchestration import DRIFT_ASSET_NAME, airflow_command, run_environment
from careassist.settings import Settings, load_settings

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

KEY = "drift-e2e-key"
REQUESTS = 600
DAG_TIMEOUT = 600
#: Messages are cut to this (the API takes 4,000 characters; the shifted ones get 400 more).
MAX_CHARS = 3000
#: The hours traffic is recorded at: like the baseline well before, shifted recently.
NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
CALM_HOUR, SHIFTED_HOUR = NOW - timedelta(hours=30), NOW - timedelta(hours=2)
#: Requests without a session id never touch the session store: any stand-in will do.
NO_SESSIONS = SimpleNamespace()

_PROBE = """
import json
from sqlalchemy import select
from airflow import settings
from airflow.models.asset import AssetDagRunQueue, AssetEvent
from airflow.models.dag import DagModel
from airflow.models.taskinstance import TaskInstance

settings.configure_orm()
session = settings.Session()
try:
    events = [{"asset": e.asset.name, "dag_id": e.source_dag_id, "task_id": e.source_task_id, "run_id": e.source_run_id,
               "extra": e.extra} for e in session.scalars(select(AssetEvent).order_by(AssetEvent.id))]
    queued = sorted([q.asset.name, q.target_dag_id] for q in session.scalars(select(AssetDagRunQueue)))
    states = {f"{t.run_id}/{t.task_id}": t.state for t in session.scalars(
        select(TaskInstance).where(TaskInstance.dag_id == "drift_detection"))}
    _, due = DagModel.dags_needing_dagruns(session)
    print(json.dumps({"events": events, "queued": queued, "states": states, "due": sorted(due)}, default=str))
finally:
    session.rollback()
    session.close()
"""


def _environment(settings: Settings) -> dict[str, str]:
    return run_environment(settings) | {"MLFLOW_DISABLE_TELEMETRY": "true", "CAREASSIST_GIT_COMMIT": "e2e-drift"}


def airflow(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(airflow_command(list(args)), env=_environment(settings), capture_output=True, text=True,
                            timeout=DAG_TIMEOUT, check=False)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    return result


def airflow_state(settings: Settings) -> dict[str, Any]:
    """Asset events, queued asset-triggered runs and drift task states, from Airflow's metadata DB."""
    result = subprocess.run([sys.executable, "-c", _PROBE], env=_environment(settings), capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A promoted model with its baseline, and Airflow's DB with every DAG and training unpaused."""
    import mlflow

    from careassist.access import digest_key
    from careassist.assistant import Assistant
    from careassist.corpus import load_seed_corpus
    from careassist.evaluation import evaluate_assistant
    from careassist.pipeline import evaluation_frame
    from careassist.training import train_assistant

    settings = load_settings(data_root=tmp_path_factory.mktemp("drift"), api_key_hashes=digest_key(KEY),
                             rate_limit_per_minute=1_000_000)
    corpus = load_seed_corpus()
    model = train_assistant(corpus.groupby("label").head(120), candidates=["tfidf_mnb"]).model
    held_out = evaluation_frame(corpus)
    # As the training pipeline's evaluate step does: the evaluation's answers are the baseline.
    observed = drift.ObservedAssistant(Assistant(model))
    evaluate_assistant(observed, held_out)
    with mlflow.start_run(experiment_id=registry.ensure_experiment(settings, "drift-e2e")) as run:
        uri = registry.log_assistant_model(model)
    drift.log_baseline(settings, run.info.run_id, observed.traffic)
    registry.register(uri, settings, tags={"gate_status": "passed", "gate_reasons": "[]"})
    lifecycle.promote(settings, 1, who="e2e", why="drift detection test")

    airflow(settings, "db", "migrate")
    airflow(settings, "dags", "reserialize")
    airflow(settings, "dags", "unpause", "training_pipeline")
    return {"settings": settings, "model": model, "held_out": held_out, "corpus": corpus}


def serve(platform: dict[str, Any], messages: list[str], hour: datetime) -> None:
    """Ask the service every message; its traffic recorder counts them in ``hour``."""
    from careassist.traffic import TrafficRecorder
    from serving.app import create_app

    settings = platform["settings"]
    recorder = TrafficRecorder(settings, clock=lambda: hour.timestamp() + 60, start=False)
    client = create_app(settings, platform["model"], sessions=NO_SESSIONS, traffic=recorder).test_client()
    for message in messages:
        response = client.post("/v1/assist", json={"message": message}, headers={"X-API-Key": KEY})
        assert response.status_code == 200, response.get_json()
    assert recorder.flush()


def run_drift_check(settings: Settings, hour: datetime) -> dict[str, Any]:
    """``airflow dags test drift_detection`` for the interval that ends after ``hour``; its MLflow report."""
    end = hour + timedelta(hours=1)
    airflow(settings, "dags", "test", "drift_detection", end.isoformat())
    client = registry.client(settings)
    experiment = client.get_experiment_by_name(drift.EXPERIMENT)
    (run,) = client.search_runs([experiment.experiment_id], filter_string=f"params.window_end = '{end.isoformat()}'")
    return {"run": run, "metrics": run.data.metrics, "status": run.data.tags["drift_status"]}


def test_traffic_like_the_baseline_triggers_nothing(platform: dict[str, Any]) -> None:
    settings = platform["settings"]
    calm = platform["held_out"]["text"].sample(REQUESTS, random_state=7, replace=True).str[:MAX_CHARS].tolist()
    serve(platform, calm, CALM_HOUR)
    checked = run_drift_check(settings, CALM_HOUR)
    print("no-drift window PSI:", {k: round(v, 4) for k, v in checked["metrics"].items() if k.startswith("psi_")})
    assert checked["status"] == drift.NO_DRIFT and checked["metrics"]["requests"] == REQUESTS
    assert all(v < settings.drift_psi_threshold for k, v in checked["metrics"].items() if k.startswith("psi_"))

    state = airflow_state(settings)
    assert state["events"] == [] and state["queued"] == [] and "training_pipeline" not in state["due"]
    assert sorted(state["states"].values()) == ["skipped", "success", "success"]
    assert "careassist_drift_detected 0.0" in (settings.monitoring_dir / drift.METRICS_FILE).read_text()


def test_shifted_traffic_emits_the_drift_asset_and_queues_the_training_pipeline(platform: dict[str, Any]) -> None:
    import numpy as np

    settings, corpus = platform["settings"], platform["corpus"]
    falls = corpus[corpus["label"] == "fall_prevention"]["text"].sample(REQUESTS, random_state=3, replace=True)
    rng = np.random.default_rng(3)
    # Nearly all about falls, several times longer, padded with words no model has seen.
    shifted = [f"{text[:MAX_CHARS]} " + " ".join(f"qz{rng.integers(10**6)}x" for _ in range(40)) for text in falls]
    serve(platform, shifted, SHIFTED_HOUR)
    started = time.time()
    checked = run_drift_check(settings, SHIFTED_HOUR)
    scores = {k: round(v, 4) for k, v in checked["metrics"].items() if k.startswith("psi_")}
    print("drift window PSI:", scores, "p(category) =", checked["metrics"].get("category_chi2_p_value"))
    assert checked["status"] == drift.DRIFT
    assert {"psi_category", "psi_oov_rate", "psi_message_length"} <= {k for k, v in scores.items() if v >= 0.2}

    state = airflow_state(settings)
    print("asset events:", state["events"], "queued:", state["queued"], "due:", state["due"])
    (event,) = state["events"]
    assert event["asset"] == DRIFT_ASSET_NAME
    assert (event["dag_id"], event["task_id"]) == ("drift_detection", "report_drift")
    assert event["extra"]["run_id"] == checked["run"].info.run_id and "category" in event["extra"]["drifted"]
    assert state["queued"] == [[DRIFT_ASSET_NAME, "training_pipeline"]]
    # The scheduler's own query finds the training pipeline due because of the event.
    assert "training_pipeline" in state["due"]
    metrics = (settings.monitoring_dir / drift.METRICS_FILE).read_text()
    assert "careassist_drift_detected 1.0" in metrics and 'careassist_drift_score{signal="category"}' in metrics
    stamp = float(next(line.split()[1] for line in metrics.splitlines()
                       if line.startswith("careassist_drift_last_run_timestamp_seconds")))
    assert stamp >= started
