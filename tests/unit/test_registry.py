"""The registry on an embedded SQLite store: log, register, load and predict; lineage and failures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from careassist import registry
from careassist.model import PREDICTION_COLUMNS, AssistantModel
from careassist.persistence import ModelFileError
from careassist.settings import Settings, load_settings

pytestmark = pytest.mark.unit

MESSAGES = pd.DataFrame(
    {
        "text": [
            "I want to end my life tonight",
            "How can I help my mother get in and out of the bath safely?",
            "What is the capital of France?",
        ]
    }
)


def _clean_settings(root: Path, **overrides: object) -> Settings:
    """Settings built outside the per-test environment fixture, so without the developer's variables."""
    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith("CAREASSIST_")]:
            patch.delenv(name)
        return load_settings(data_root=root, **overrides)


@pytest.fixture(scope="session")
def small_model() -> AssistantModel:
    """A model trained on 60 seed messages per label (a second or two)."""
    from careassist.corpus import load_seed_corpus
    from careassist.training import train_assistant

    corpus = load_seed_corpus()
    return train_assistant(corpus.groupby("label").head(60), candidates=["tfidf_mnb"]).model


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """One embedded registry for the module (creating MLflow's tables takes seconds)."""
    return _clean_settings(tmp_path_factory.mktemp("registry") / "platform")


def _log(settings: Settings, model: AssistantModel) -> str:
    import mlflow

    experiment = registry.ensure_experiment(settings, "assistant-tests")
    with mlflow.start_run(experiment_id=experiment):
        return registry.log_assistant_model(model)


@pytest.fixture(scope="module")
def logged(store: Settings, small_model: AssistantModel) -> str:
    return _log(store, small_model)


@pytest.fixture(scope="module")
def registered(store: Settings, logged: str) -> registry.RegisteredVersion:
    tags = {"dataset_version": "2026-01-01T000000Z", "git_commit": "abc123", "metric.test_macro_f1": "0.91"}
    return registry.register(logged, store, tags=tags, description="from the tests", key="tests-assistant-1")


def _artifact(settings: Settings, model_uri: str, name: str) -> Path:
    model_id = model_uri.removeprefix("models:/")
    found = [p for p in Path(settings.artifacts_location).rglob(name) if model_id in p.parts]
    assert len(found) == 1, found
    return found[0]


def test_a_registered_assistant_loads_by_version_and_predicts(
    store: Settings, registered: registry.RegisteredVersion, small_model: AssistantModel
) -> None:
    import mlflow.pyfunc

    registry.configure(store)
    assert registered.uri == f"models:/healthcare-assistant/{registered.version}"
    loaded = mlflow.pyfunc.load_model(registered.uri)
    predicted = loaded.predict(MESSAGES)
    assert tuple(predicted.columns) == PREDICTION_COLUMNS
    assert predicted["label"].tolist()[0] == "crisis"
    pd.testing.assert_frame_equal(predicted, small_model.predict(MESSAGES))
    inner = loaded.unwrap_python_model().model
    assert isinstance(inner, AssistantModel)
    assert inner.predict_one(MESSAGES["text"][1]).category == predicted["category"][1]


def test_registration_keeps_the_lineage_and_is_complete(
    store: Settings, registered: registry.RegisteredVersion
) -> None:
    version = registry.get_version(store, registered.version)
    assert version.complete
    assert version.tags["dataset_version"] == "2026-01-01T000000Z"
    assert version.tags["git_commit"] == "abc123"
    assert version.tags[registry.KEY_TAG] == "tests-assistant-1"
    assert version.metrics == {"test_macro_f1": 0.91}
    assert version.description == "from the tests"
    assert version.run_id


def test_registering_again_with_the_same_key_returns_the_same_version(
    store: Settings, logged: str, registered: registry.RegisteredVersion
) -> None:
    count = len(registry.list_versions(store))
    again = registry.register(logged, store, tags={"dataset_version": "other"}, key="tests-assistant-1")
    assert again.version == registered.version
    assert len(registry.list_versions(store)) == count
    assert registry.find_version(store, "tests-assistant-1") == again
    assert registry.find_version(store, "no-such-key") is None


def test_the_pyfunc_accepts_a_list_or_a_dict_of_texts(store: Settings, registered: registry.RegisteredVersion) -> None:
    loaded = registry.load_pyfunc(store, registered.uri)
    texts = MESSAGES["text"].tolist()
    # Through pyfunc's schema enforcement, {"text": [...]} arrives as one row holding the list.
    assert loaded.predict({"text": texts})["label"].tolist() == loaded.predict(MESSAGES)["label"].tolist()
    inner = loaded.unwrap_python_model()
    assert len(inner.predict(None, texts)) == 3
    assert len(inner.predict(None, {"text": texts[0]})) == 1
    with pytest.raises(registry.ModelInputError, match="'text' column"):
        inner.predict(None, pd.DataFrame({"message": texts}))
    with pytest.raises(registry.ModelInputError, match="must be a string"):
        inner.predict(None, [1, 2])


def test_the_logged_model_declares_its_signature_requirements_and_code(
    store: Settings, logged: str, small_model: AssistantModel
) -> None:
    from mlflow.models import get_model_info, infer_signature

    registry.configure(store)
    info = get_model_info(logged)
    assert info.signature.inputs.to_dict() == [{"type": "string", "name": "text", "required": True}]
    inferred = infer_signature(MESSAGES, small_model.predict(MESSAGES))
    assert info.signature.outputs.to_dict() == inferred.outputs.to_dict()
    requirements = _artifact(store, logged, "requirements.txt").read_text().split()
    from importlib.metadata import version

    for dist in ("scikit-learn", "skops", "numpy", "pandas", "scipy", "pyyaml"):
        assert f"{dist}=={version(dist)}" in requirements
    code = _artifact(store, logged, "code") / "careassist"
    assert (code / "content" / "answers.yaml").is_file()
    assert sorted(p.name for p in (code / "corpus" / "seed").glob("*.csv")) == sorted(
        p.name for p in (registry.PACKAGE_DIR / "corpus" / "seed").glob("*.csv")
    )
    assert not list(code.rglob("__pycache__"))


@pytest.mark.slow
def test_the_model_loads_where_careassist_is_not_installed(
    store: Settings, registered: registry.RegisteredVersion, tmp_path: Path
) -> None:
    script = f"""
import importlib.util, json, sys
sys.meta_path[:] = [f for f in sys.meta_path if "__editable__" not in getattr(f, "__module__", "")]
assert importlib.util.find_spec("careassist") is None, "careassist is still importable"
import mlflow.pyfunc, pandas as pd
mlflow.set_tracking_uri({store.mlflow_tracking_uri!r})
model = mlflow.pyfunc.load_model({registered.uri!r})
labels = model.predict(pd.DataFrame({{"text": ["I want to end my life tonight"]}}))["label"].tolist()
import careassist
print(json.dumps({{"file": careassist.__file__, "labels": labels}}))
"""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-I", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["labels"] == ["crisis"]
    assert Path(result["file"]).parts[-3:] == ("code", "careassist", "__init__.py")


def test_a_tampered_model_file_is_refused(store: Settings, small_model: AssistantModel) -> None:
    uri = _log(store, small_model)
    version = registry.register(uri, store, tags={"purpose": "tamper test"})
    path = _artifact(store, uri, registry.MODEL_FILE)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="checksum mismatch"):
        registry.load_pyfunc(store, version.uri)


def test_a_scikit_learn_flavour_registers_through_the_same_function(store: Settings) -> None:
    import mlflow
    import mlflow.sklearn
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.naive_bayes import MultinomialNB
    from sklearn.pipeline import Pipeline

    frame = pd.DataFrame({"text": ["my knee hurts", "my hip aches", "I feel lonely", "I feel sad"] * 3})
    labels = ["pain", "pain", "mood", "mood"] * 3
    pipeline = Pipeline(
        [("features", ColumnTransformer([("word", TfidfVectorizer(), "text")])), ("classifier", MultinomialNB())]
    ).fit(frame, labels)
    experiment = registry.ensure_experiment(store, "sklearn-tests")
    with mlflow.start_run(experiment_id=experiment):
        info = mlflow.sklearn.log_model(
            pipeline,
            name="baseline",
            pip_requirements=registry.model_requirements(),
            signature=mlflow.models.infer_signature(frame, pipeline.predict(frame)),
        )
    version = registry.register(info.model_uri, store, tags={"flavour": "sklearn"}, key="tests-sklearn-1")
    assert version.complete and version.tags["flavour"] == "sklearn"
    loaded = registry.load_pyfunc(store, version.uri)
    assert list(loaded.predict(pd.DataFrame({"text": ["my knee hurts", "I feel lonely"]}))) == ["pain", "mood"]


def test_a_registration_that_fails_half_way_leaves_an_unaliasable_version(
    store: Settings, logged: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from careassist import lifecycle

    original = MlflowClient.set_model_version_tag

    def failing(self: Any, name: str, version: str, key: str, value: Any) -> None:
        if key == "dataset_version":
            raise MlflowException("the store went away")
        original(self, name, version, key, value)

    monkeypatch.setattr(MlflowClient, "set_model_version_tag", failing)
    tags = {"gate_status": "passed", "gate_reasons": "[]", "dataset_version": "v"}
    with pytest.raises(registry.RegistryError, match="can never get an alias") as raised:
        registry.register(logged, store, tags=tags, key="tests-half-way")
    assert "the store went away" in str(raised.value)
    monkeypatch.undo()

    broken = registry.list_versions(store)[0]
    assert broken.tags[registry.KEY_TAG] == "tests-half-way"
    assert broken.registration_status == registry.FAILED and not broken.complete
    assert "the store went away" in broken.tags[registry.ERROR_TAG]
    assert registry.find_version(store, "tests-half-way") is None
    with pytest.raises(lifecycle.PromotionRefused, match=f"version {broken.version} .* registration is failed"):
        lifecycle.promote(store, broken.version, who="tester", why="should not work")
    with pytest.raises(lifecycle.LifecycleError, match="cannot be staged"):
        lifecycle.set_staging(store, broken.version, who="tester", why="should not work")
    retried = registry.register(logged, store, tags=tags, key="tests-half-way")
    assert retried.version > broken.version and retried.complete


def test_a_version_cut_off_before_it_was_complete_is_not_servable(store: Settings, logged: str) -> None:
    # A process killed right after creating the version cannot mark it failed: it stays pending.
    import mlflow

    from careassist import lifecycle

    registry.configure(store)
    created = mlflow.register_model(
        logged, store.model_name, tags={registry.STATUS_TAG: registry.PENDING, "gate_status": "passed"}
    )
    with pytest.raises(lifecycle.PromotionRefused, match="registration is pending"):
        lifecycle.promote(store, created.version, who="tester", why="should not work")


def test_bad_input_is_refused_with_the_reason(store: Settings, logged: str) -> None:
    with pytest.raises(registry.RegistryError, match="pipeline_key"):
        registry.register(logged, store, tags={"pipeline_key": "x"})
    with pytest.raises(registry.RegistryError, match="must be non-empty strings"):
        registry.register(logged, store, tags={"metric.f1": 0.9})  # type: ignore[dict-item]
    with pytest.raises(registry.RegistryError, match="pipeline key"):
        registry.register(logged, store, tags={}, key="it's")
    with pytest.raises(registry.VersionNotFound, match="'abc' is not a version number"):
        registry.get_version(store, "abc")
    with pytest.raises(registry.VersionNotFound, match="healthcare-assistant has no version 999"):
        registry.get_version(store, 999)
    with pytest.raises(registry.RegistryError, match="cannot load models:/healthcare-assistant/999"):
        registry.load_pyfunc(store, "models:/healthcare-assistant/999")


def test_logging_needs_an_active_run(small_model: AssistantModel) -> None:
    with pytest.raises(registry.RegistryError, match="active MLflow run"):
        registry.log_assistant_model(small_model)


def test_experiments_live_under_the_artifacts_location_and_come_back_when_deleted(make_settings: Any) -> None:
    from mlflow import MlflowClient

    settings = make_settings()
    first = registry.ensure_experiment(settings, "lifecycle")
    assert registry.ensure_experiment(settings, "lifecycle") == first
    client = MlflowClient(settings.mlflow_tracking_uri)
    experiment = client.get_experiment(first)
    assert experiment.artifact_location == str(Path(settings.artifacts_location) / "lifecycle")
    client.delete_experiment(first)
    assert registry.ensure_experiment(settings, "lifecycle") == first
    assert client.get_experiment(first).lifecycle_stage == "active"
    with pytest.raises(registry.RegistryError, match="experiment name"):
        registry.ensure_experiment(settings, "a/b")


def test_git_commit_prefers_the_environment_and_never_fails(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CAREASSIST_GIT_COMMIT", "0123456789abcdef")
    assert registry.git_commit() == "0123456789abcdef"
    monkeypatch.delenv("CAREASSIST_GIT_COMMIT")
    monkeypatch.setenv("PATH", str(tmp_path))  # no git executable
    assert registry.git_commit() == "unknown"


@pytest.fixture(autouse=True)
def _forget_the_tracking_uri() -> Iterator[None]:
    """Leave no test's store as MLflow's process-wide default for the next test."""
    yield
    import mlflow

    registry._configured = None
    mlflow.set_tracking_uri(None)
