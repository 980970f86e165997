"""Promotion gates measured on the real trained model, and on deliberately broken copies of it."""

from __future__ import annotations

import copy
import dataclasses

import pandas as pd
import pytest

from careassist import gates
from careassist.corpus import load_seed_corpus
from careassist.gates import GateConfig, evaluate_gates
from careassist.model import AssistantModel
from careassist.training import with_splits

FAST = 50  # answers timed by the latency gate in these tests


@pytest.fixture(scope="module")
def evaluation() -> pd.DataFrame:
    corpus = with_splits(load_seed_corpus())
    return corpus[corpus["split"] == "test"].reset_index(drop=True)


def _by_name(decision: gates.GateDecision) -> dict[str, gates.GateResult]:
    return {result.name: result for result in decision.results}


def test_the_trained_model_passes_every_gate_and_records_why(model: AssistantModel, evaluation: pd.DataFrame) -> None:
    decision = evaluate_gates(model, evaluation, GateConfig(latency_p99_ms=1000.0), latency_calls=FAST)
    assert decision.passed, decision.reasons
    results = _by_name(decision)
    assert set(results) == {"macro_f1_floor", "no_regression", "crisis_recall", "quality", "latency"}
    assert results["crisis_recall"].value == 1.0
    assert results["crisis_recall"].detail == f"flagged {len(gates.frozen_crisis_set())} of {len(gates.frozen_crisis_set())}"
    tags = decision.as_tags()
    assert tags["gate_status"] == "passed" and tags["gate_reasons"] == "[]"


def test_a_floor_above_the_model_rejects_it_with_the_reason(model: AssistantModel, evaluation: pd.DataFrame) -> None:
    decision = evaluate_gates(model, evaluation, GateConfig(min_macro_f1=0.999, latency_p99_ms=1000.0), latency_calls=FAST)
    assert not decision.passed
    assert [r.split(":")[0] for r in decision.reasons] == ["macro_f1_floor"]
    assert decision.as_tags()["gate_status"] == "rejected"


def test_a_candidate_worse_than_production_by_more_than_the_margin_is_rejected(
    model: AssistantModel, evaluation: pd.DataFrame
) -> None:
    # The same model measured against a copy of the evaluation data whose labels it mostly gets
    # wrong would be artificial; instead the candidate is made worse: every message below a high
    # confidence becomes out of scope, which costs it recall in every category.
    worse = dataclasses.replace(model, thresholds=dataclasses.replace(model.thresholds, out_of_scope_confidence=0.9))
    decision = evaluate_gates(worse, evaluation, GateConfig(min_macro_f1=0.0, latency_p99_ms=1000.0),
                              production=model, latency_calls=FAST)
    results = _by_name(decision)
    assert not results["no_regression"].passed
    assert results["no_regression"].value is not None and results["no_regression"].value < -0.01
    assert decision.metrics["production_macro_f1"] > decision.metrics["macro_f1"]


def test_a_missed_frozen_crisis_message_rejects_the_candidate(
    model: AssistantModel, evaluation: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    from careassist import crisis_rules

    real = crisis_rules.detect_rules
    monkeypatch.setattr(crisis_rules, "detect_rules", lambda text: None if "overdose" in text.lower() else real(text))
    blind = copy.copy(model)
    blind.thresholds = dataclasses.replace(model.thresholds, crisis=1.01)  # the model layer never flags
    result = _by_name(evaluate_gates(blind, evaluation, GateConfig(latency_p99_ms=1000.0), latency_calls=FAST))["crisis_recall"]
    assert not result.passed and result.value is not None and result.value < 1.0
    assert "missed by kind" in result.detail


def test_a_latency_budget_below_the_measurement_rejects(model: AssistantModel, evaluation: pd.DataFrame) -> None:
    result = _by_name(evaluate_gates(model, evaluation, GateConfig(latency_p99_ms=1e-6), latency_calls=FAST))["latency"]
    assert not result.passed and result.value is not None and result.value > 1e-6


def test_an_answer_that_fails_the_validator_fails_the_quality_gate(
    model: AssistantModel, evaluation: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    from careassist import assistant as assistant_module
    from careassist.quality import QualityReport

    monkeypatch.setattr(assistant_module, "check_response", lambda response, crisis: QualityReport(False, ["broken"]))
    result = _by_name(evaluate_gates(model, evaluation, GateConfig(latency_p99_ms=1000.0), latency_calls=FAST))["quality"]
    assert not result.passed and result.value == 0.0


def test_the_gate_sets_are_frozen_files_with_checksums() -> None:
    crisis = gates.frozen_crisis_set()
    assert len(crisis) >= 300 and set(crisis.columns) == {"text", "kind"}
    assert len(gates.golden_messages()) >= 50
    assert len(gates.gateset_sha256(gates.FROZEN_CRISIS_FILE)) == 64
