"""The training pipeline's steps, one function per Airflow task (the DAG files stay thin).

Steps pass references (dataset version, URIs, run ids, version numbers), never data frames. Each is
idempotent: a re-run of the same interval finds the same dataset version, the same training set
(by content hash), the same MLflow run (by its ``pipeline_key``) and the same registered version.

    ingest -> validate -> training_set -> train -> evaluate -> gate -> register -> promote
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from careassist.model import AssistantModel
    from careassist.settings import Settings

log = logging.getLogger(__name__)

#: The MLflow experiment of the training pipeline's runs.
EXPERIMENT = "healthcare-assistant-training"
#: The run artifact that holds the point-in-time training set's reference.
TRAINING_SET_FOLDER = "training-sets"
#: Bump when the training recipe changes in a way the code commit does not show.
RECIPE_VERSION = "1"
#: Lineage tags copied from the training run to the registered version.
#: Run tags copied onto the registered version (``pipeline_key`` is set by ``registry.register``).
LINEAGE_TAGS = (
    "dataset_version",
    "dataset_manifest_sha256",
    "validation_report_uri",
    "feature_service",
    "training_set_uri",
    "training_set_sha256",
    "training_cutoff",
    "git_commit",
    "candidate",
    "airflow_run",
)


class PipelineError(RuntimeError):
    """A pipeline step cannot go on; the message names the reference at fault."""


# -- data --------------------------------------------------------------------------------------
def ingest_step(settings: Settings) -> dict[str, Any]:
    """Read the raw location and stage a snapshot (or find it already published)."""
    from careassist import ingest

    batch = ingest.ingest(settings)
    return {"dataset_version": batch.version, "staged_uri": batch.uri, "rows": batch.rows}


def validate_step(settings: Settings, dataset_version: str) -> dict[str, Any]:
    """Validate the staged snapshot with GX, then publish it or quarantine it (raises ValidationFailed)."""
    from careassist import ingest, validation
    from careassist.storage import Location

    root = ingest.datasets(settings)
    published = root.child("snapshots", dataset_version)
    if not published.exists(ingest.MANIFEST_FILE):
        staged = root.child("staging", dataset_version)
        if not staged.exists(ingest.MANIFEST_FILE):
            raise PipelineError(f"dataset {dataset_version} is neither staged nor published under {root.uri}")
        manifest = json.loads(staged.read_bytes(ingest.MANIFEST_FILE))
        batch = ingest.StagedBatch(dataset_version, staged.uri, int(manifest.get("rows", 0)), manifest)
        validation.validate_staged(batch, settings)
    elif ingest.current_version(settings) != dataset_version:
        # Published earlier but not current (a later batch won): validation passed then; make it current.
        validation.publish(published, published, dataset_version, settings)
    manifest_bytes = Location(published.uri, settings).read_bytes(ingest.MANIFEST_FILE)
    return {
        "dataset_version": dataset_version,
        "snapshot_uri": published.uri,
        "manifest_sha256": hashlib.sha256(manifest_bytes).hexdigest(),
        "validation_report_uri": f"{published.uri}/{ingest.REPORT_FILE}",
    }


def training_set_step(settings: Settings, dataset_version: str, cutoff: datetime) -> dict[str, Any]:
    """Register the features, load the snapshot into the offline store and build the training set."""
    from careassist import features, ingest
    from careassist.ingest import to_parquet_bytes
    from careassist.storage import Location

    snapshot = ingest.read_snapshot_frame(ingest.snapshot_location(settings, dataset_version))
    features.apply_definitions(settings)
    features.write_offline_sources(settings, snapshot)
    result = features.training_set(settings, cutoff)
    folder = Location(settings.artifacts_location, settings).child(TRAINING_SET_FOLDER)
    name = f"{result.sha256}.parquet"
    if not folder.exists(name):
        folder.write_bytes(name, to_parquet_bytes(result.frame))
    return {
        "dataset_version": dataset_version,
        "training_set_uri": f"{folder.uri}/{name}",
        "training_set_sha256": result.sha256,
        "rows": result.rows,
        "training_cutoff": cutoff.isoformat(),
        "feature_service": features.MODEL_SERVICE,
    }


def read_training_set(settings: Settings, uri: str) -> pd.DataFrame:
    """A training set written by :func:`training_set_step`, checked against its content hash."""
    import io

    import pandas as pd

    from careassist.features import frame_sha256
    from careassist.storage import Location

    folder, _, name = uri.rpartition("/")
    frame = pd.read_parquet(io.BytesIO(Location(folder, settings).read_bytes(name)))
    if frame_sha256(frame) != name.removesuffix(".parquet"):
        raise PipelineError(f"{uri}: content does not match its hash; the training set was altered")
    return frame


def evaluation_frame(training: pd.DataFrame) -> pd.DataFrame:
    """The held-out test split of a training set: what evaluation and the gates measure on."""
    from careassist.training import with_splits

    frame = with_splits(training)
    return frame[frame["split"] == "test"].reset_index(drop=True)


# -- model ---------------------------------------------------------------------------------------
def pipeline_key(training_set_sha256: str, git_commit: str) -> str:
    """What makes two training runs the same: the data, the code and the recipe."""
    return hashlib.sha256(f"{training_set_sha256}:{git_commit}:{RECIPE_VERSION}".encode()).hexdigest()[:32]


def _client(settings: Settings) -> Any:
    from mlflow import MlflowClient

    from careassist import registry

    registry.configure(settings)
    return MlflowClient()


def _finished_run(settings: Settings, key: str) -> Any | None:
    from careassist import registry

    client = _client(settings)
    experiment = registry.ensure_experiment(settings, EXPERIMENT)
    runs = client.search_runs(
        [experiment], filter_string=f"tags.pipeline_key = '{key}' and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"], max_results=1,
    )
    return runs[0] if runs else None


def train_step(settings: Settings, training: dict[str, Any], validation: dict[str, Any],
               airflow_run: str = "") -> dict[str, Any]:
    """Train the candidates on the training set and log the chosen model in an MLflow run."""
    import mlflow

    from careassist import registry
    from careassist.training import train_assistant

    commit = registry.git_commit()
    key = pipeline_key(training["training_set_sha256"], commit)
    existing = _finished_run(settings, key)
    if existing is not None:
        log.info("training run %s already holds pipeline key %s", existing.info.run_id, key)
        return {"run_id": existing.info.run_id, "pipeline_key": key, "reused": True,
                "model_uri": existing.data.tags.get("model_uri", "")}
    frame = read_training_set(settings, training["training_set_uri"])
    started = time.perf_counter()
    result = train_assistant(frame)
    seconds = time.perf_counter() - started
    experiment = registry.ensure_experiment(settings, EXPERIMENT)
    tags = {
        "pipeline_key": key,
        "git_commit": commit,
        "candidate": result.chosen,
        "airflow_run": airflow_run,
        "dataset_version": training["dataset_version"],
        "dataset_manifest_sha256": validation["manifest_sha256"],
        "validation_report_uri": validation["validation_report_uri"],
        "feature_service": training["feature_service"],
        "training_set_uri": training["training_set_uri"],
        "training_set_sha256": training["training_set_sha256"],
        "training_cutoff": training["training_cutoff"],
    }
    with mlflow.start_run(experiment_id=experiment, run_name=f"train-{training['dataset_version']}") as run:
        mlflow.set_tags(tags)
        mlflow.log_params({"chosen_candidate": result.chosen, "features": result.model.feature_count,
                           **{f"rows_{k}": v for k, v in result.split_sizes.items()},
                           **{f"threshold_{k}": v for k, v in result.model.describe()["thresholds"].items()}})
        mlflow.log_metric("train_seconds", seconds)
        for name, scores in result.candidates.items():
            mlflow.log_metric(f"{name}_validation_macro_f1", scores["validation_macro_f1"])
        _log_lineage(settings, validation, run.info.run_id)
        model_uri = registry.log_assistant_model(result.model)
        mlflow.set_tag("model_uri", model_uri)
        run_id = run.info.run_id
    return {"run_id": run_id, "pipeline_key": key, "reused": False, "model_uri": model_uri}


def _log_lineage(settings: Settings, validation: dict[str, Any], run_id: str) -> None:
    """The dataset's manifest and its GX report, copied into the run (``lineage/``) so the MLflow UI
    shows what the model learned from and which checks it passed, even after the datasets move."""
    from careassist import ingest
    from careassist.storage import Location

    snapshot = Location(validation["snapshot_uri"], settings)
    client = _client(settings)
    for name in (ingest.MANIFEST_FILE, ingest.REPORT_FILE):
        text = snapshot.read_bytes(name).decode("utf-8")
        client.log_text(run_id, text, f"lineage/{name}")


def load_run_model(settings: Settings, run_id: str) -> AssistantModel:
    """The AssistantModel logged by a training run."""
    run = _client(settings).get_run(run_id)
    uri = run.data.tags.get("model_uri")
    if not uri:
        raise PipelineError(f"run {run_id} has no logged model (tag model_uri)")
    return load_assistant(settings, uri)


def load_assistant(settings: Settings, uri: str) -> AssistantModel:
    """The AssistantModel behind a pyfunc model URI (runs:/, models:/...)."""
    from careassist import registry

    return registry.load_pyfunc(settings, uri).unwrap_python_model().model  # type: ignore[no-any-return]


def _run_evaluation_frame(settings: Settings, run_id: str) -> pd.DataFrame:
    run = _client(settings).get_run(run_id)
    return evaluation_frame(read_training_set(settings, run.data.tags["training_set_uri"]))


def evaluate_step(settings: Settings, run_id: str) -> dict[str, Any]:
    """Evaluate the run's model on the held-out split with the harness; log report and plot.

    The answers are also counted as anonymous traffic: the drift baseline (``drift/baseline.json``)
    that served traffic is compared with, at no extra pass over the data.
    """
    import mlflow

    from careassist import drift
    from careassist.assistant import Assistant
    from careassist.evaluation import evaluate_assistant

    model = load_run_model(settings, run_id)
    frame = _run_evaluation_frame(settings, run_id)
    observed = drift.ObservedAssistant(Assistant(model))
    with tempfile.TemporaryDirectory() as folder:
        report = evaluate_assistant(observed, frame, Path(folder))
        client = _client(settings)
        client.log_artifacts(run_id, folder, "evaluation")
    drift.log_baseline(settings, run_id, observed.traffic)
    metrics = _report_metrics(report)
    with mlflow.start_run(run_id=run_id):
        mlflow.log_metrics(metrics)
    return {"run_id": run_id, **metrics}


def _report_metrics(report: dict[str, Any]) -> dict[str, float]:
    metrics: dict[str, float] = {"test_rows": float(report["rows"])}
    overall = report.get("overall") or {}
    if overall.get("macro_f1") is not None:
        metrics["test_macro_f1"] = float(overall["macro_f1"])
        metrics["test_accuracy"] = float(overall["accuracy"])
    crisis = report.get("crisis") or {}
    for name in ("recall", "wilson_lower"):
        if crisis.get(name) is not None:
            metrics[f"test_crisis_{name}"] = float(crisis[name])
    oos = report.get("out_of_scope") or {}
    for name in ("precision", "recall"):
        if oos.get(name) is not None:
            metrics[f"test_out_of_scope_{name}"] = float(oos[name])
    for group, values in (report.get("false_positives") or {}).items():
        if values and values.get("rate") is not None:
            metrics[f"test_fp_rate_{group}"] = float(values["rate"])
    return metrics


def gate_step(settings: Settings, run_id: str) -> dict[str, Any]:
    """Measure the promotion gates of the run's model against the current production model."""
    import mlflow

    from careassist import gates, lifecycle

    candidate = load_run_model(settings, run_id)
    production_version = lifecycle.current(settings, "production")
    production = None
    if production_version is not None:
        production = load_assistant(settings, f"models:/{settings.model_name}/{production_version}")
    decision = gates.evaluate_gates(
        candidate, _run_evaluation_frame(settings, run_id), gates.GateConfig.from_settings(settings),
        production=production,
    )
    body = decision.to_dict() | {
        "production_version": production_version,
        "frozen_crisis_sha256": gates.gateset_sha256(gates.FROZEN_CRISIS_FILE),
        "golden_messages_sha256": gates.gateset_sha256(gates.GOLDEN_MESSAGES_FILE),
    }
    client = _client(settings)
    client.log_text(run_id, json.dumps(body, indent=2, default=str), "gates/decision.json")
    with mlflow.start_run(run_id=run_id):
        mlflow.log_metrics({f"gate_{k}": float(v) for k, v in decision.metrics.items()})
        mlflow.set_tags(decision.as_tags())
    log.info("gates of run %s: %s %s", run_id, "passed" if decision.passed else "rejected", decision.reasons)
    return {"run_id": run_id, "passed": decision.passed, "reasons": decision.reasons,
            "production_version": production_version}


def register_step(settings: Settings, run_id: str) -> dict[str, Any]:
    """Register the run's model with its lineage and gate decision (idempotent by pipeline key)."""
    from careassist import registry

    run = _client(settings).get_run(run_id)
    run_tags, metrics = run.data.tags, run.data.metrics
    if "gate_status" not in run_tags:
        raise PipelineError(f"run {run_id} has no gate decision; run the gate step first")
    tags = {name: run_tags[name] for name in LINEAGE_TAGS if run_tags.get(name)}
    tags |= {name: run_tags[name] for name in ("gate_status", "gate_reasons", "gate_results") if name in run_tags}
    tags |= {f"metric.{name}": f"{value:.6g}" for name, value in sorted(metrics.items())}
    tags["run_id"] = run_id
    version = registry.register(
        run_tags["model_uri"], settings, tags=tags, key=run_tags["pipeline_key"],
        description=f"dataset {run_tags.get('dataset_version')}, cutoff {run_tags.get('training_cutoff')}, "
                    f"commit {run_tags.get('git_commit', '')[:12]}, gates {run_tags['gate_status']}",
    )
    return {"version": str(version.version), "gate_status": run_tags["gate_status"]}


def promote_step(settings: Settings, version: str, *, who: str, why: str) -> dict[str, Any]:
    """Give a version that passed its gates the staging and production aliases; a rejected one none.

    A version an operator rolled back is not promoted again automatically (a re-run of its interval
    must not undo the rollback); ``healthcare-ai model promote`` can, on purpose.
    """
    from careassist import lifecycle, registry

    info = registry.get_version(settings, version)
    production = lifecycle.current(settings, lifecycle.PRODUCTION)
    if info.gate_status != "passed":
        log.warning("version %s rejected by its gates: %s", info.version, info.gate_reasons)
        return {"version": info.version, "promoted": False, "reasons": info.gate_reasons, "production": production}
    if "rolled_back" in info.tags and production != info.version:
        reason = f"version {info.version} was rolled back ({info.tags.get('rolled_back_why', 'no reason given')})"
        log.warning("%s; not promoting it again automatically", reason)
        return {"version": info.version, "promoted": False, "reasons": [reason], "production": production}
    lifecycle.set_staging(settings, info.version, who=who, why=why)
    lifecycle.promote(settings, info.version, who=who, why=why)
    return {
        "version": info.version,
        "promoted": True,
        "reasons": [],
        "production": lifecycle.current(settings, lifecycle.PRODUCTION),
    }


# -- data-aware trigger ------------------------------------------------------------------------
RAW_FINGERPRINT_FILE = "raw_fingerprint.json"


def raw_fingerprint(settings: Settings) -> str:
    """A hash of the raw location's files (names and content)."""
    from careassist.storage import Location

    location = Location(settings.raw_location, settings)
    digest = hashlib.sha256()
    for name in sorted(location.list_files()):
        digest.update(name.encode() + b"\0" + hashlib.sha256(location.read_bytes(name)).digest())
    return digest.hexdigest()


def detect_raw_change(settings: Settings) -> dict[str, Any] | None:
    """The new fingerprint when the raw location changed since the last call, else None.

    The raw-data watch DAG emits the raw-data asset event only then, which triggers training.
    """
    from careassist import ingest

    fingerprint = raw_fingerprint(settings)
    root = ingest.datasets(settings)
    try:
        seen = json.loads(root.read_bytes(RAW_FINGERPRINT_FILE)).get("fingerprint")
    except FileNotFoundError:
        seen = None
    if seen == fingerprint:
        return None
    root.write_bytes(RAW_FINGERPRINT_FILE, json.dumps({"fingerprint": fingerprint}).encode())
    return {"fingerprint": fingerprint, "previous": seen, "raw_location": settings.raw_location}
