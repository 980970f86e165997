"""The service's model source on an embedded SQLite registry: start, verified local copies, following
the production alias (promotions, rollbacks, failures) and swaps that never mix two models."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from careassist import lifecycle, registry
from careassist.assistant import Assistant
from careassist.model import AssistantModel
from careassist.model_source import (
    LoadedModel,
    LocalCopyError,
    LocalModelStore,
    MlflowRegistry,
    ModelLoadError,
    ModelSource,
    RegistryUnavailable,
    VersionRef,
    local_models_dir,
    redact_uri,
)
from careassist.persistence import file_sha256
from careassist.settings import Settings, load_settings

pytestmark = pytest.mark.unit

#: Ordinary messages whose confidences tell the three test models apart.
MESSAGES = (
    "How can I help my mother get in and out of the bath safely?",
    "My husband keeps forgetting his evening pills, what can I do?",
    "What exercises help an older adult keep their balance?",
    "I feel exhausted looking after my dad every day.",
)
#: Rows per label each test model is trained on: version n is trained on ROWS[n].
ROWS = {1: 40, 2: 60, 3: 80}
PASSED = {"gate_status": "passed", "gate_reasons": "[]"}


@pytest.fixture(autouse=True)
def _quiet_mlflow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


@pytest.fixture(scope="module")
def models() -> dict[int, AssistantModel]:
    """Three small models, trained on different samples so that their answers differ."""
    from careassist.corpus import load_seed_corpus
    from careassist.training import train_assistant

    corpus = load_seed_corpus()
    return {
        n: train_assistant(corpus.groupby("label").head(rows), candidates=["tfidf_mnb"]).model
        for n, rows in ROWS.items()
    }


def fingerprint(assistant: Assistant) -> tuple[float, ...]:
    return tuple(assistant.answer(message).confidence for message in MESSAGES)


@pytest.fixture(scope="module")
def fingerprints(models: dict[int, AssistantModel]) -> dict[str, tuple[float, ...]]:
    """Each version's confidences on ``MESSAGES``, computed from the in-memory model."""
    prints = {str(n): fingerprint(Assistant(model)) for n, model in models.items()}
    assert len(set(prints.values())) == len(prints), "the test models must answer differently"
    return prints


@pytest.fixture(scope="module")
def store(
    tmp_path_factory: pytest.TempPathFactory, models: dict[int, AssistantModel]
) -> tuple[Settings, dict[int, str]]:
    """One embedded registry with the three models logged once; each test registers its own model name."""
    import mlflow

    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith("CAREASSIST_")]:
            patch.delenv(name)
        patch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        settings = load_settings(data_root=tmp_path_factory.mktemp("model-source") / "platform")
        experiment = registry.ensure_experiment(settings, "model-source-tests")
        logged = {}
        for n, model in models.items():
            with mlflow.start_run(experiment_id=experiment):
                logged[n] = registry.log_assistant_model(model)
    return settings, logged


@pytest.fixture
def platform(store: tuple[Settings, dict[int, str]]) -> Settings:
    """Settings of a fresh registered model: versions 1-3 are models 1-3, gates passed, none promoted."""
    settings = store[0].model_copy(update={"model_name": f"assistant-{uuid.uuid4().hex[:8]}"})
    for n, uri in store[1].items():
        registry.register(uri, settings, tags=PASSED | {"dataset_version": f"ds-{n}"})
    return settings


@pytest.fixture
def unreachable(monkeypatch: pytest.MonkeyPatch) -> Callable[[Settings], Settings]:
    """The same settings with the registry behind a closed loopback port (failing at once)."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return lambda settings: settings.model_copy(update={"mlflow_uri": f"http://127.0.0.1:{port}"})


@pytest.fixture
def sources() -> Iterator[list[ModelSource]]:
    """Sources a test starts; their watchers are stopped afterwards."""
    started: list[ModelSource] = []
    yield started
    for source in started:
        source.stop()


def promote(settings: Settings, version: int) -> None:
    lifecycle.promote(settings, version, who="tests", why=f"release {version}")


def start(settings: Settings, sources: list[ModelSource], **kwargs: object) -> ModelSource:
    source = ModelSource(settings, **kwargs)  # type: ignore[arg-type]
    sources.append(source)
    source.start(watch=False)
    return source


def serving(source: ModelSource) -> LoadedModel:
    loaded = source.current
    assert loaded is not None, source.status().reason
    return loaded


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


class SwitchableRegistry:
    """The real registry boundary, which a test can take away (``down``), whose artifact store it
    can take away (``artifacts_down``) or which it can hold mid-download (``release``)."""

    def __init__(self, inner: MlflowRegistry) -> None:
        self.inner = inner
        self.location = inner.location
        self.down = False
        self.artifacts_down = False
        self.release = threading.Event()
        self.release.set()

    def _check(self) -> None:
        if self.down:
            raise RegistryUnavailable(f"the registry {self.location} is down (test)")

    def alias_version(self, name: str, alias: str) -> str | None:
        self._check()
        return self.inner.alias_version(name, alias)

    def describe(self, name: str, version: str, alias: str) -> VersionRef:
        self._check()
        if self.artifacts_down:
            raise ModelLoadError(f"cannot read models:/{name}/{version}/MLmodel: the artifact store is down (test)")
        return self.inner.describe(name, version, alias)

    def download_weights(self, ref: VersionRef, folder: Path) -> Path:
        self._check()
        assert self.release.wait(30)
        return self.inner.download_weights(ref, folder)


# -- start and the local copy ------------------------------------------------------------------
def test_start_loads_production_and_keeps_a_verified_local_copy(
    platform: Settings, sources: list[ModelSource], fingerprints: dict[str, tuple[float, ...]]
) -> None:
    promote(platform, 1)
    source = ModelSource(platform)
    sources.append(source)
    assert not source.ready and source.current is None

    loaded = source.start(watch=False)

    assert loaded is source.current and source.ready
    assert (loaded.name, loaded.version, loaded.alias, loaded.origin) == (
        platform.model_name,
        "1",
        "production",
        "registry",
    )
    assert loaded.dataset_version == "ds-1"
    assert loaded.run_id == registry.get_version(platform, 1).run_id
    assert loaded.source_uri == f"models:/{platform.model_name}/1"
    assert fingerprint(loaded.assistant) == fingerprints["1"]
    assert sum(loaded.assistant.stats.answers.values()) == len(MESSAGES)  # the warm-up is nobody's answer

    folder = local_models_dir(platform)
    assert folder == platform.root / "serving" / "models" / platform.model_name
    # Only the weights and their record are kept: no pyfunc code, environment or example.
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) == [
        ".lock",
        "v1/assistant.skops",
        "v1/record.json",
    ]
    record = json.loads((folder / "v1" / "record.json").read_text())
    registered_sha = MlflowRegistry(platform).describe(platform.model_name, "1", "production").sha256
    assert record["sha256"] == registered_sha == loaded.sha256 == file_sha256(folder / "v1" / "assistant.skops")
    assert {k: record[k] for k in ("version", "alias", "run_id", "dataset_version", "source_uri", "model_uri")} == {
        "version": "1",
        "alias": "production",
        "run_id": loaded.run_id,
        "dataset_version": "ds-1",
        "source_uri": loaded.source_uri,
        "model_uri": f"models:/{platform.model_name}@production",
    }
    assert record["saved_at"].endswith("+00:00")

    status = source.status()
    assert status.ready and status.registry == "ok" and status.production_version == "1"
    assert (status.loads, status.swaps, status.load_failures, status.downloads) == (1, 0, 0, 1)
    assert status.last_check_at is not None
    body = status.to_dict()
    assert body["registry"] == {"status": "ok", "reason": ""} and body["model"]["version"] == "1"
    json.dumps(body)  # the /readyz body is plain JSON


def test_a_restart_without_the_registry_serves_the_newest_local_copy_and_reports_degraded(
    platform: Settings,
    sources: list[ModelSource],
    unreachable: Callable[[Settings], Settings],
    fingerprints: dict[str, tuple[float, ...]],
) -> None:
    promote(platform, 1)
    first = start(platform, sources)
    promote(platform, 2)
    assert first.check_now() == "swapped"

    down = unreachable(platform)
    restarted = start(down, sources)

    loaded = serving(restarted)
    assert (loaded.version, loaded.origin, loaded.dataset_version) == ("2", "local_copy", "ds-2")
    assert fingerprint(loaded.assistant) == fingerprints["2"]
    status = restarted.status()
    assert status.ready and status.registry == restarted.registry_status() == "degraded"
    assert down.mlflow_uri in status.reason and "cannot be reached" in status.reason
    assert "serving the local copy of version 2" in status.reason
    assert restarted.check_now() == "registry_unavailable"
    assert serving(restarted) is loaded  # still serving


def test_without_registry_or_local_copy_the_source_is_not_ready_and_says_why(
    platform: Settings, sources: list[ModelSource], unreachable: Callable[[Settings], Settings]
) -> None:
    source = start(unreachable(platform), sources)
    assert not source.ready and source.current is None
    status = source.status()
    assert status.registry == "degraded" and "cannot be reached" in status.reason
    assert f"no local copy in {local_models_dir(platform)}" in status.reason
    assert status.load_failures == 0  # nothing was refused: there was nothing to load


def test_a_tampered_local_copy_is_refused_not_served_and_downloaded_again(
    platform: Settings, sources: list[ModelSource], unreachable: Callable[[Settings], Settings]
) -> None:
    promote(platform, 1)
    start(platform, sources)
    weights = local_models_dir(platform) / "v1" / "assistant.skops"
    with weights.open("ab") as handle:
        handle.write(b"tampered")

    restarted = start(unreachable(platform), sources)
    assert not restarted.ready and restarted.current is None
    status = restarted.status()
    assert status.registry == "degraded" and status.load_failures == 1
    assert str(weights) in status.reason and "checksum mismatch" in status.reason
    with pytest.raises(LocalCopyError, match=f"{weights}: checksum mismatch"):
        LocalModelStore.for_settings(platform).load_newest()

    # With the registry back the file is downloaded again, verified and kept.
    repaired = start(platform, sources)
    assert serving(repaired).version == "1" and repaired.status().downloads == 1
    assert file_sha256(weights) == serving(repaired).sha256


def test_the_registry_coming_back_confirms_the_local_copy_without_reloading(
    platform: Settings, sources: list[ModelSource]
) -> None:
    promote(platform, 1)
    start(platform, sources)
    switchable = SwitchableRegistry(MlflowRegistry(platform))
    switchable.down = True
    restarted = start(platform, sources, registry=switchable)
    local = serving(restarted)
    assert local.origin == "local_copy" and restarted.status().registry == "degraded"

    switchable.down = False
    assert restarted.check_now() == "confirmed"
    confirmed = serving(restarted)
    assert (confirmed.version, confirmed.origin) == ("1", "registry")
    assert confirmed.assistant is local.assistant
    status = restarted.status()
    assert (status.registry, status.loads, status.swaps, status.downloads) == ("ok", 1, 0, 0)
    assert restarted.check_now() == "unchanged"


def test_with_the_artifact_store_away_only_the_production_versions_own_copy_serves(
    platform: Settings, sources: list[ModelSource]
) -> None:
    promote(platform, 1)
    start(platform, sources)
    no_artifacts = SwitchableRegistry(MlflowRegistry(platform))
    no_artifacts.artifacts_down = True

    restarted = start(platform, sources, registry=no_artifacts)
    loaded = serving(restarted)
    assert (loaded.version, loaded.origin) == ("1", "local_copy")
    assert "the artifact store is down" in restarted.status().reason

    # Production moved on to a version never kept here: the copy of version 1 must not serve.
    promote(platform, 2)
    other = start(platform, sources, registry=no_artifacts)
    assert not other.ready
    assert f"no local copy of version 2 in {local_models_dir(platform)}" in other.status().reason


# -- following the alias -----------------------------------------------------------------------
def test_a_promotion_is_swapped_in_and_a_request_holding_the_old_model_keeps_it(
    platform: Settings, sources: list[ModelSource], fingerprints: dict[str, tuple[float, ...]]
) -> None:
    promote(platform, 1)
    source = start(platform, sources)
    assert source.check_now() == "unchanged"
    held = serving(source)  # a request in flight

    promote(platform, 2)
    assert source.check_now() == "swapped"

    now = serving(source)
    assert (now.version, now.dataset_version) == ("2", "ds-2")
    assert fingerprint(now.assistant) == fingerprints["2"]
    assert held.version == "1" and fingerprint(held.assistant) == fingerprints["1"]
    status = source.status()
    assert (status.loads, status.swaps, status.load_failures, status.registry) == (2, 1, 0, "ok")

    promote(platform, 3)
    assert source.check_now() == "swapped" and serving(source).version == "3"
    # The newest two versions are kept.
    assert [c.version for c in source.store.copies()] == ["3", "2"]
    assert not (local_models_dir(platform) / "v1").exists()


def test_each_installed_model_is_handed_to_the_install_callbacks_and_a_failing_one_changes_nothing(
    platform: Settings, sources: list[ModelSource], caplog: pytest.LogCaptureFixture
) -> None:
    promote(platform, 1)
    source = ModelSource(platform)
    sources.append(source)
    installed: list[str] = []

    def broken(loaded: LoadedModel) -> None:
        raise RuntimeError("callback failed")

    source.on_install.extend([lambda loaded: installed.append(loaded.version), broken])
    source.start(watch=False)
    assert installed == ["1"] and serving(source).version == "1"
    assert "a callback on installing version 1 failed" in caplog.text

    assert source.check_now() == "unchanged" and installed == ["1"]  # the same model: no new install
    promote(platform, 2)
    assert source.check_now() == "swapped"
    assert installed == ["1", "2"] and serving(source).version == "2"


def test_a_rollback_is_followed_from_the_kept_local_copy(
    platform: Settings, sources: list[ModelSource], fingerprints: dict[str, tuple[float, ...]]
) -> None:
    promote(platform, 1)
    source = start(platform, sources)
    promote(platform, 2)
    assert source.check_now() == "swapped"

    lifecycle.rollback(platform, who="tests", why="answers got worse")
    assert source.check_now() == "swapped"

    back = serving(source)
    assert (back.version, back.origin) == ("1", "registry")
    assert fingerprint(back.assistant) == fingerprints["1"]
    status = source.status()
    assert (status.swaps, status.downloads) == (2, 2)  # version 1 came from its verified local copy
    assert [c.version for c in source.store.copies()] == ["1", "2"]  # version 1 is the newest again


def test_a_corrupt_new_version_leaves_the_old_one_serving_and_is_counted_once(
    platform: Settings,
    store: tuple[Settings, dict[int, str]],
    models: dict[int, AssistantModel],
    sources: list[ModelSource],
) -> None:
    import mlflow

    promote(platform, 1)
    source = start(platform, sources)
    experiment = registry.ensure_experiment(platform, "model-source-tests")
    with mlflow.start_run(experiment_id=experiment):
        corrupt_uri = registry.log_assistant_model(models[2])
    registry.register(corrupt_uri, platform, tags=PASSED)  # version 4
    model_id = corrupt_uri.removeprefix("models:/")
    (weights,) = [p for p in Path(platform.artifacts_location).rglob("assistant.skops") if model_id in p.parts]
    weights.write_bytes(weights.read_bytes()[:-100])
    promote(platform, 4)

    assert source.check_now() == "load_failed"
    assert serving(source).version == "1"
    status = source.status()
    assert (status.load_failures, status.swaps, status.registry, status.production_version) == (1, 0, "degraded", "4")
    assert f"models:/{platform.model_name}/4" in status.reason and "checksum mismatch" in status.reason
    assert str(weights.parent) in status.reason
    assert "still serving version 1" in status.reason
    assert source.check_now() == "rejected"  # not downloaded again until the alias moves
    assert source.status().load_failures == 1
    assert [c.version for c in source.store.copies()] == ["1"]

    promote(platform, 2)
    assert source.check_now() == "swapped" and serving(source).version == "2"
    assert source.status().registry == "ok"


def test_a_version_that_is_not_an_assistant_is_refused(platform: Settings, sources: list[ModelSource]) -> None:
    import mlflow
    import mlflow.sklearn
    from sklearn.dummy import DummyClassifier

    promote(platform, 1)
    source = start(platform, sources)
    experiment = registry.ensure_experiment(platform, "model-source-tests")
    with mlflow.start_run(experiment_id=experiment):
        dummy = DummyClassifier(strategy="most_frequent").fit([[0], [1]], ["a", "a"])
        uri = str(mlflow.sklearn.log_model(dummy, name="tiny", pip_requirements=["scikit-learn"]).model_uri)
    registry.register(uri, platform, tags=PASSED)  # version 4
    promote(platform, 4)

    assert source.check_now() == "load_failed"
    assert serving(source).version == "1"
    assert f"models:/{platform.model_name}/4/MLmodel names no sha256" in source.status().reason


def test_a_version_whose_registration_is_incomplete_is_refused(platform: Settings, sources: list[ModelSource]) -> None:
    promote(platform, 1)
    source = start(platform, sources)
    mlflow_client = registry.client(platform)
    mlflow_client.set_model_version_tag(platform.model_name, "2", registry.STATUS_TAG, registry.PENDING)
    mlflow_client.set_registered_model_alias(platform.model_name, "production", "2")  # outside careassist

    assert source.check_now() == "load_failed"
    assert serving(source).version == "1"
    assert f"models:/{platform.model_name}/2 may not serve" in source.status().reason
    assert "registration pending" in source.status().reason


def test_not_ready_until_a_warm_up_answer_succeeds(
    platform: Settings, sources: list[ModelSource], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: AssistantModel, text: str) -> None:
        raise FloatingPointError("weights hold NaN")

    promote(platform, 1)
    with monkeypatch.context() as patch:
        patch.setattr(AssistantModel, "predict_one", broken)
        source = start(platform, sources)
    assert not source.ready and source.current is None
    status = source.status()
    assert (
        status.load_failures == 1
        and "the warm-up answer failed (FloatingPointError: weights hold NaN)" in status.reason
    )
    assert source.store.copies() == []  # a model that cannot answer is never kept

    promote(platform, 2)
    assert source.check_now() == "loaded" and source.ready


def test_not_ready_while_the_first_load_is_in_flight(platform: Settings, sources: list[ModelSource]) -> None:
    promote(platform, 1)
    slow = SwitchableRegistry(MlflowRegistry(platform))
    slow.release.clear()
    source = ModelSource(platform, registry=slow, start_timeout=0.3)
    sources.append(source)

    assert source.start(watch=False) is None
    assert not source.ready
    assert "was not loaded within 0.3 s" in source.status().reason

    slow.release.set()  # the download goes on in the background and is swapped in
    wait_for(lambda: source.ready)
    assert serving(source).version == "1" and source.status().registry == "ok"


def test_the_watcher_follows_the_alias_by_itself(platform: Settings, sources: list[ModelSource]) -> None:
    promote(platform, 1)
    source = ModelSource(platform.model_copy(update={"model_poll_seconds": 0.05}))
    sources.append(source)
    source.start()
    promote(platform, 2)
    wait_for(lambda: serving(source).version == "2")
    source.stop()
    promote(platform, 3)
    time.sleep(0.3)
    assert serving(source).version == "2"  # stopped: no more checks


def test_requests_during_many_swaps_each_use_one_model_from_start_to_end(
    platform: Settings, sources: list[ModelSource], fingerprints: dict[str, tuple[float, ...]]
) -> None:
    promote(platform, 1)
    source = start(platform, sources)
    stop = threading.Event()
    errors: list[str] = []
    seen: list[set[str]] = []

    def hammer() -> None:
        versions: set[str] = set()
        seen.append(versions)
        while not stop.is_set():
            loaded = source.current  # read once per request
            try:
                assert loaded is not None
                got = fingerprint(loaded.assistant)
                if got != fingerprints[loaded.version]:
                    errors.append(f"version {loaded.version} answered {got}")
                versions.add(loaded.version)
            except Exception as exc:  # noqa: BLE001 - any failure is what this test looks for
                errors.append(repr(exc))
            time.sleep(0.001)  # a request also waits on its client now and then

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        for version in (2, 3, 1, 2, 3, 1):
            promote(platform, version)
            assert source.check_now() == "swapped"
            time.sleep(0.05)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    assert errors == []
    assert set().union(*seen) == {"1", "2", "3"}
    assert source.status().swaps == 6 and source.status().load_failures == 0


# -- without a registry ------------------------------------------------------------------------
def test_an_injected_model_serves_without_any_registry(
    settings: Settings, models: dict[int, AssistantModel], fingerprints: dict[str, tuple[float, ...]]
) -> None:
    source = ModelSource.from_model(models[3], version=3, settings=settings)
    loaded = serving(source)
    assert (loaded.version, loaded.origin, loaded.alias) == ("3", "injected", "production")
    assert fingerprint(loaded.assistant) == fingerprints["3"]
    assert source.start() is loaded and source.check_now() == "static"
    status = source.status()
    assert status.ready and status.registry == "ok" and status.loads == 1
    assert not (settings.root / "serving").exists()


def test_importing_the_module_does_not_import_mlflow() -> None:
    code = "import sys, careassist.model_source; print('mlflow' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert result.stdout.strip() == "False"


def test_registry_messages_never_show_a_password() -> None:
    assert (
        redact_uri("postgresql://mlflow:s3cret@db:5432/careassist_mlflow")
        == "postgresql://mlflow:***@db:5432/careassist_mlflow"
    )
    assert redact_uri("http://127.0.0.1:5000") == "http://127.0.0.1:5000"
