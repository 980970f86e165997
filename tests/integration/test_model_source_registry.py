"""The service's model source on the production profile: the registry in PostgreSQL, the weights in
S3 (moto's server), a promotion followed by a swap."""

from __future__ import annotations

import json

import pytest

from careassist import lifecycle, registry
from careassist.assistant import Assistant
from careassist.bootstrap import create_databases
from careassist.model_source import MlflowRegistry, ModelSource, local_models_dir
from careassist.persistence import file_sha256
from careassist.settings import Settings

pytestmark = pytest.mark.integration

MESSAGES = (
    "How can I help my mother get in and out of the bath safely?",
    "My husband keeps forgetting his evening pills, what can I do?",
    "What exercises help an older adult keep their balance?",
)


@pytest.fixture(autouse=True)
def _quiet_mlflow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


def fingerprint(assistant: Assistant) -> tuple[float, ...]:
    return tuple(assistant.answer(message).confidence for message in MESSAGES)


def test_the_source_loads_production_from_postgres_and_s3_and_swaps_on_promotion(production: Settings) -> None:
    import mlflow

    from careassist.corpus import load_seed_corpus
    from careassist.training import train_assistant

    create_databases(production)
    corpus = load_seed_corpus()
    models = {
        n: train_assistant(corpus.groupby("label").head(rows), candidates=["tfidf_mnb"]).model
        for n, rows in ((1, 40), (2, 70))
    }
    experiment = registry.ensure_experiment(production, "model-source-integration")
    for n, model in models.items():
        with mlflow.start_run(experiment_id=experiment):
            uri = registry.log_assistant_model(model)
        registry.register(uri, production, tags={"gate_status": "passed", "dataset_version": f"ds-{n}"})
    lifecycle.promote(production, 1, who="tests", why="first release")

    source = ModelSource(production)
    loaded = source.start(watch=False)
    assert loaded is not None, source.status().reason
    assert (loaded.version, loaded.origin, loaded.dataset_version) == ("1", "registry", "ds-1")
    assert fingerprint(loaded.assistant) == fingerprint(Assistant(models[1]))
    ref = MlflowRegistry(production).describe(production.model_name, "1", "production")
    assert ref.weights_uri.startswith(f"s3://{production.s3_bucket}/mlflow-artifacts/")
    copy = local_models_dir(production) / "v1"
    assert (
        json.loads((copy / "record.json").read_text())["sha256"] == file_sha256(copy / "assistant.skops") == ref.sha256
    )

    lifecycle.promote(production, 2, who="tests", why="second release")
    assert source.check_now() == "swapped"
    now = source.current
    assert now is not None and (now.version, now.dataset_version) == ("2", "ds-2")
    assert fingerprint(now.assistant) == fingerprint(Assistant(models[2]))
    assert loaded.version == "1" and fingerprint(loaded.assistant) == fingerprint(Assistant(models[1]))
    status = source.status()
    assert (status.registry, status.loads, status.swaps, status.downloads, status.load_failures) == ("ok", 2, 1, 2, 0)
