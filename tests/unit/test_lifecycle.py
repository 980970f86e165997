"""Alias moves: promotion gates, the production stack, rollbacks, and a history that never lies."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from careassist import lifecycle, registry
from careassist.cli import main
from careassist.lifecycle import PRODUCTION, STAGING, AliasMove
from careassist.settings import Settings, load_settings

pytestmark = pytest.mark.unit

PASSED = {"gate_status": "passed", "gate_reasons": "[]"}
REJECTED = {
    "gate_status": "rejected",
    "gate_reasons": json.dumps(["macro_f1_floor: macro-F1 0.7000 vs floor 0.85", "crisis_recall: flagged 9 of 10"]),
}


def _log_tiny_model(settings: Settings) -> str:
    """A scikit-learn dummy classifier: the cheapest pyfunc-compatible model."""
    import mlflow
    import mlflow.sklearn
    from sklearn.dummy import DummyClassifier

    experiment = registry.ensure_experiment(settings, "lifecycle-tests")
    with mlflow.start_run(experiment_id=experiment):
        model = DummyClassifier(strategy="most_frequent").fit([[0], [1]], ["a", "a"])
        return str(mlflow.sklearn.log_model(model, name="tiny", pip_requirements=["scikit-learn"]).model_uri)


def _register(settings: Settings, uri: str, *gates: dict[str, str]) -> None:
    for number, tags in enumerate(gates, start=1):
        registry.register(uri, settings, tags=tags | {"metric.test_macro_f1": f"0.{90 + number}"})


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, str]:
    """One embedded registry and one logged model for the module; each test registers its own model name."""
    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith("CAREASSIST_")]:
            patch.delenv(name)
        settings = load_settings(data_root=tmp_path_factory.mktemp("lifecycle") / "platform")
    return settings, _log_tiny_model(settings)


@pytest.fixture
def model(store: tuple[Settings, str]) -> Settings:
    """Settings of a fresh registered model with versions 1-3 passed and 4 rejected by its gates."""
    settings = store[0].model_copy(update={"model_name": f"assistant-{uuid.uuid4().hex[:8]}"})
    _register(settings, store[1], PASSED, PASSED, PASSED, REJECTED)
    return settings


def _promote(settings: Settings, version: int) -> AliasMove:
    move = lifecycle.promote(settings, version, who="ana", why=f"release {version}")
    assert move is not None
    return move


def test_promote_moves_production_and_records_who_why_and_metrics(model: Settings) -> None:
    move = _promote(model, 1)
    assert lifecycle.current(model, PRODUCTION) == 1
    assert (move.seq, move.action, move.from_version, move.to_version) == (1, "promote", None, 1)
    assert (move.who, move.why, move.outcome) == ("ana", "release 1", "done")
    assert move.metrics == {"test_macro_f1": 0.91}
    assert move.when.endswith("+00:00")
    stored = registry.client(model).get_registered_model(model.model_name).tags["alias_history.000001"]
    assert AliasMove.from_json(stored) == move


def test_promoting_the_production_version_again_changes_nothing(model: Settings) -> None:
    _promote(model, 2)
    assert lifecycle.promote(model, 2, who="ana", why="again") is None
    assert len(lifecycle.history(model, attempts=True)) == 1


def test_a_version_rejected_by_its_gates_is_refused_with_the_reasons(model: Settings) -> None:
    _promote(model, 1)
    with pytest.raises(lifecycle.PromotionRefused) as refused:
        lifecycle.promote(model, 4, who="ana", why="try")
    message = str(refused.value)
    assert f"version 4 of {model.model_name} cannot be promoted" in message
    assert "gate_status is rejected" in message
    assert "macro_f1_floor: macro-F1 0.7000 vs floor 0.85" in message and "crisis_recall: flagged 9 of 10" in message
    assert lifecycle.current(model, PRODUCTION) == 1
    assert [m.to_version for m in lifecycle.history(model, attempts=True)] == [1]


def test_a_version_without_a_gate_decision_is_refused(model: Settings, store: tuple[Settings, str]) -> None:
    registry.register(store[1], model, tags={})
    with pytest.raises(lifecycle.PromotionRefused, match="version 5 .* gate_status is not set"):
        lifecycle.promote(model, 5, who="ana", why="try")


def test_rollbacks_pop_the_production_stack_one_version_at_a_time(model: Settings) -> None:
    for version in (1, 2, 3):
        _promote(model, version)
    back = lifecycle.rollback(model, who="bo", why="answers too long")
    assert (back.action, back.from_version, back.to_version, back.who) == ("rollback", 3, 2, "bo")
    assert lifecycle.current(model, PRODUCTION) == 2
    rolled = registry.get_version(model, 3).tags
    assert rolled["rolled_back"] == "true" and rolled["rolled_back_why"] == "answers too long"
    assert rolled["rolled_back_when"] == back.when

    again = lifecycle.rollback(model, who="bo", why="still wrong")
    assert (again.from_version, again.to_version) == (2, 1)  # two rollbacks go back two versions
    assert lifecycle.current(model, PRODUCTION) == 1
    with pytest.raises(lifecycle.RollbackImpossible, match="version 1 is the first production version"):
        lifecycle.rollback(model, who="bo", why="once more")
    assert [(m.action, m.from_version, m.to_version) for m in lifecycle.history(model, PRODUCTION)] == [
        ("promote", None, 1),
        ("promote", 1, 2),
        ("promote", 2, 3),
        ("rollback", 3, 2),
        ("rollback", 2, 1),
    ]


def test_rollback_without_a_production_version_is_impossible(model: Settings) -> None:
    with pytest.raises(lifecycle.RollbackImpossible, match="has no production version"):
        lifecycle.rollback(model, who="bo", why="nothing")


def test_a_rolled_back_version_can_be_promoted_again_on_purpose(model: Settings) -> None:
    _promote(model, 1)
    _promote(model, 2)
    lifecycle.rollback(model, who="bo", why="bad")
    _promote(model, 2)
    assert "rolled_back" not in registry.get_version(model, 2).tags
    assert lifecycle.production_stack(model) == [1, 2]
    assert lifecycle.rollback(model, who="bo", why="bad again").to_version == 1


def test_history_survives_alias_moves_and_keeps_aliases_apart(model: Settings) -> None:
    staged = lifecycle.set_staging(model, 2, who="ci", why="candidate", metrics={"gate_macro_f1": 0.93})
    assert staged is not None and staged.metrics == {"gate_macro_f1": 0.93}
    assert lifecycle.set_staging(model, 2, who="ci", why="same again") is None
    _promote(model, 1)
    _promote(model, 2)
    lifecycle.set_staging(model, 3, who="ci", why="next candidate")
    lifecycle.rollback(model, who="bo", why="bad")
    everything = lifecycle.history(model)
    assert [m.seq for m in everything] == [1, 2, 3, 4, 5]
    assert everything[0] == staged  # the first move is still there, unchanged, after four more
    assert [(m.action, m.to_version) for m in lifecycle.history(model, STAGING)] == [("stage", 2), ("stage", 3)]
    assert [m.action for m in lifecycle.history(model, PRODUCTION)] == ["promote", "promote", "rollback"]
    assert lifecycle.current(model, STAGING) == 3 and lifecycle.current(model, PRODUCTION) == 1


def test_a_failed_alias_move_leaves_no_false_history(model: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    _promote(model, 1)

    def broken(self: Any, name: str, alias: str, version: str) -> None:
        raise MlflowException("database is locked")

    monkeypatch.setattr(MlflowClient, "set_registered_model_alias", broken)
    with pytest.raises(lifecycle.LifecycleError, match=r"@production at version 2: database is locked"):
        lifecycle.promote(model, 2, who="ana", why="release 2")
    monkeypatch.undo()

    assert lifecycle.current(model, PRODUCTION) == 1
    assert [m.to_version for m in lifecycle.history(model)] == [1]
    failed = lifecycle.history(model, attempts=True)[-1]
    assert (failed.to_version, failed.outcome, failed.error) == (2, "failed", "database is locked")
    assert lifecycle.production_stack(model) == [1]
    retried = _promote(model, 2)
    assert retried.seq == 3 and lifecycle.production_stack(model) == [1, 2]


def test_a_move_whose_confirmation_was_lost_still_counts(model: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    original = MlflowClient.set_registered_model_tag

    def lose_confirmation(self: Any, name: str, key: str, value: Any) -> None:
        if json.loads(value).get("outcome") == "done":
            raise MlflowException("connection reset")
        original(self, name, key, value)

    monkeypatch.setattr(MlflowClient, "set_registered_model_tag", lose_confirmation)
    assert _promote(model, 1).outcome == "done"
    monkeypatch.undo()
    stored = registry.client(model).get_registered_model(model.model_name).tags["alias_history.000001"]
    assert AliasMove.from_json(stored).outcome == "pending"
    assert [m.to_version for m in lifecycle.history(model)] == [1]  # the alias points there: it happened
    _promote(model, 2)
    stored = registry.client(model).get_registered_model(model.model_name).tags["alias_history.000001"]
    assert AliasMove.from_json(stored).outcome == "done"  # settled before the next move


def test_an_entry_of_a_process_killed_before_the_move_never_counts(model: Settings) -> None:
    _promote(model, 1)
    # What a process killed between recording and moving leaves behind:
    pending = AliasMove(
        seq=2,
        alias=PRODUCTION,
        action="promote",
        from_version=1,
        to_version=2,
        who="ana",
        when="2026-01-01T00:00:00+00:00",
        why="release 2",
        outcome="pending",
    )
    registry.client(model).set_registered_model_tag(model.model_name, pending.tag, pending.to_json())
    assert [m.to_version for m in lifecycle.history(model)] == [1]
    with pytest.raises(lifecycle.RollbackImpossible):
        lifecycle.rollback(model, who="bo", why="the pending entry is not a production version")
    _promote(model, 3)
    attempts = lifecycle.history(model, attempts=True)
    assert [(m.to_version, m.outcome) for m in attempts] == [(1, "done"), (2, "failed"), (3, "done")]
    assert lifecycle.production_stack(model) == [1, 3]


def test_an_alias_moved_outside_careassist_blocks_a_blind_rollback(model: Settings) -> None:
    _promote(model, 1)
    _promote(model, 2)
    registry.client(model).set_registered_model_alias(model.model_name, PRODUCTION, "3")
    with pytest.raises(lifecycle.RollbackImpossible, match="moved outside careassist"):
        lifecycle.rollback(model, who="bo", why="which one?")


def test_bad_versions_and_missing_reasons_are_refused(model: Settings) -> None:
    with pytest.raises(registry.VersionNotFound, match="'v2' is not a version number"):
        lifecycle.promote(model, "v2", who="ana", why="x")
    with pytest.raises(registry.VersionNotFound, match="has no version 42"):
        lifecycle.promote(model, 42, who="ana", why="x")
    with pytest.raises(registry.VersionNotFound, match="0 is not a version number"):
        lifecycle.set_staging(model, 0, who="ana", why="x")
    with pytest.raises(lifecycle.LifecycleError, match="needs a reason"):
        lifecycle.promote(model, 1, who="ana", why=" ")
    with pytest.raises(lifecycle.LifecycleError, match="needs who"):
        lifecycle.rollback(model, who="", why="x")
    with pytest.raises(lifecycle.LifecycleError, match="'prod' is not one of staging, production"):
        lifecycle.history(model, "prod")
    assert lifecycle.current(model, PRODUCTION) is None and lifecycle.history(model, attempts=True) == []


def test_the_actor_defaults_to_the_environment_then_the_os_user(monkeypatch: pytest.MonkeyPatch) -> None:
    import getpass

    monkeypatch.setenv("CAREASSIST_ACTOR", "airflow:training_pipeline")
    assert lifecycle.default_actor() == "airflow:training_pipeline"
    monkeypatch.delenv("CAREASSIST_ACTOR")
    assert lifecycle.default_actor() == getpass.getuser()


# -- the command line --------------------------------------------------------------------------
@pytest.fixture
def cli_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_settings: Any) -> Settings:
    monkeypatch.setenv("CAREASSIST_DATA_ROOT", str(tmp_path / "platform"))
    monkeypatch.setenv("CAREASSIST_ACTOR", "operator-1")
    settings: Settings = make_settings()
    _register(settings, _log_tiny_model(settings), PASSED, PASSED, REJECTED)
    return settings


def test_model_commands_list_show_promote_rollback_and_history(
    cli_store: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["model", "promote", "1", "--why", "first release"]) == 0
    assert json.loads(capsys.readouterr().out)["who"] == "operator-1"
    assert main(["model", "promote", "2", "--why", "better", "--who", "ana"]) == 0
    capsys.readouterr()

    assert main(["model", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["VERSION", "ALIASES", "GATE", "REGISTRATION"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert "production" in rows["2"] and "passed" in rows["2"] and "macro_f1=0.92" in rows["2"]
    assert "rejected" in rows["3"]

    assert main(["model", "show", "3"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["version"] == 3 and shown["gate_reasons"][1] == "crisis_recall: flagged 9 of 10"
    assert shown["tags"]["registration_status"] == "complete"

    assert main(["model", "promote", "3", "--why", "try"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: version 3 of healthcare-assistant cannot be promoted") and "Traceback" not in err

    assert main(["model", "rollback", "--why", "complaints"]) == 0
    assert json.loads(capsys.readouterr().out)["to_version"] == 1
    assert main(["model", "rollback", "--why", "again"]) == 1
    assert "nothing to roll back to" in capsys.readouterr().err

    assert main(["model", "history", "--alias", "production", "--json"]) == 0
    moves = json.loads(capsys.readouterr().out)
    assert [(m["action"], m["to_version"], m["who"]) for m in moves] == [
        ("promote", 1, "operator-1"),
        ("promote", 2, "ana"),
        ("rollback", 1, "operator-1"),
    ]
    assert main(["model", "history"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:4] == ["SEQ", "WHEN", "ALIAS", "ACTION"] and len(table) == 4
    assert main(["model", "show", "nine"]) == 1
    assert "'nine' is not a version number" in capsys.readouterr().err


def test_model_commands_on_an_empty_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CAREASSIST_DATA_ROOT", str(tmp_path / "platform"))
    assert main(["model", "list"]) == 0
    assert "no versions of healthcare-assistant are registered" in capsys.readouterr().out
    assert main(["model", "history"]) == 0
    assert "no alias moves" in capsys.readouterr().out
    assert main(["model", "rollback", "--why", "x"]) == 1
    assert "has no production version" in capsys.readouterr().err


@pytest.fixture(autouse=True)
def _forget_the_tracking_uri() -> Iterator[None]:
    yield
    import mlflow

    registry._configured = None
    mlflow.set_tracking_uri(None)  # type: ignore[arg-type]
