from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from careassist import evaluation
from careassist.evaluation import (
    EvaluationError,
    evaluate_predictions,
    summarise,
    wilson_interval,
    write_report,
)
from careassist.taxonomy import CATEGORIES, OUT_OF_SCOPE

pytestmark = pytest.mark.unit


def row(
    label: str,
    predicted: str,
    *,
    kind: str = "general",
    source: str = "seed",
    crisis: bool = False,
    oos: bool | None = None,
    confidence: float = 0.9,
) -> dict[str, Any]:
    """One prediction; a crisis flag forces ``predicted`` to crisis, as the assistant does."""
    return {
        "label": label,
        "kind": kind,
        "source": source,
        "predicted": "crisis" if crisis else predicted,
        "crisis_flag": crisis,
        "out_of_scope_flag": predicted == OUT_OF_SCOPE if oos is None else oos,
        "confidence": confidence,
    }


def table(*rows: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame(list(rows))


@pytest.fixture
def categories() -> pd.DataFrame:
    """Eight in-scope rows and two out-of-scope ones; the expected figures are worked out in the tests."""
    return table(
        row("adl_mobility", "adl_mobility"),
        row("adl_mobility", "adl_mobility"),
        row("adl_mobility", "adl_self_care"),
        row("adl_self_care", "adl_self_care"),
        row("adl_self_care", OUT_OF_SCOPE),
        row("medication_management", "adl_mobility"),
        row("crisis", "mental_health", kind="ideation_explicit", crisis=True),
        row("crisis", "crisis", kind="overdose", crisis=True),
        row(OUT_OF_SCOPE, "adl_mobility", kind="out_of_scope"),
        row(OUT_OF_SCOPE, OUT_OF_SCOPE, kind="out_of_scope"),
    )


# -- Wilson interval ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("successes", "total", "lower", "upper"),
    [(20, 20, 0.8389, 1.0), (0, 10, 0.0, 0.2775), (5, 10, 0.2366, 0.7634), (3, 4, 0.3006, 0.9544), (0, 0, 0.0, 1.0)],
)
def test_wilson_interval_matches_published_values(successes: int, total: int, lower: float, upper: float) -> None:
    low, high = wilson_interval(successes, total)
    assert (round(low, 4), round(high, 4)) == (lower, upper)


def test_wilson_bounds_are_exact_at_the_extremes() -> None:
    assert wilson_interval(40, 40)[1] == 1.0
    assert wilson_interval(0, 40)[0] == 0.0


@pytest.mark.parametrize(("successes", "total"), [(-1, 5), (6, 5), (0, -1)])
def test_wilson_interval_rejects_impossible_counts(successes: int, total: int) -> None:
    with pytest.raises(ValueError, match="successes <= total"):
        wilson_interval(successes, total)


# -- categories -------------------------------------------------------------------------------------


def test_per_category_precision_recall_f1_and_support(categories: pd.DataFrame) -> None:
    per_category = evaluate_predictions(categories)["overall"]["per_category"]
    # adl_mobility: 2 right, 1 medication row wrongly called adl_mobility, 1 missed. The out-of-scope
    # row predicted adl_mobility is not in-scope, so it does not lower the precision.
    assert per_category["adl_mobility"] == {
        "precision": 0.6667, "recall": 0.6667, "f1": 0.6667, "support": 3, "predicted": 3,
    }  # fmt: skip
    # adl_self_care: 1 right, 1 answered out of scope (a miss), 1 adl_mobility row taken from it.
    assert per_category["adl_self_care"] == {
        "precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2, "predicted": 2,
    }  # fmt: skip
    # Never predicted: precision is undefined, recall and F1 are 0.
    assert per_category["medication_management"] == {
        "precision": None, "recall": 0.0, "f1": 0.0, "support": 1, "predicted": 0,
    }  # fmt: skip
    assert per_category["crisis"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 2, "predicted": 2}
    assert per_category["senior_care"] == {
        "precision": None, "recall": None, "f1": None, "support": 0, "predicted": 0,
    }  # fmt: skip


def test_macro_f1_and_accuracy_count_only_in_scope_rows(categories: pd.DataFrame) -> None:
    overall = evaluate_predictions(categories)["overall"]
    # Mean over the four labels with support: (2/3 + 1/2 + 0 + 1) / 4.
    assert overall["macro_f1"] == 0.5417
    assert overall["accuracy"] == 0.625  # 5 of 8
    assert overall["rows"] == 8
    assert overall["answered_out_of_scope"] == 1


def test_macro_f1_ignores_labels_without_support_but_counts_their_false_positives() -> None:
    predictions = table(row("adl_mobility", "adl_mobility"), row("adl_mobility", "senior_care"))
    overall = evaluate_predictions(predictions)["overall"]
    assert overall["per_category"]["senior_care"] == {
        "precision": 0.0, "recall": None, "f1": 0.0, "support": 0, "predicted": 1,
    }  # fmt: skip
    assert overall["per_category"]["adl_mobility"]["precision"] == 1.0
    assert overall["macro_f1"] == 0.6667  # adl_mobility alone: P 1, R 1/2


def test_confusion_matrix_counts_true_rows_by_predicted_columns(categories: pd.DataFrame) -> None:
    confusion = evaluate_predictions(categories)["confusion_matrix"]
    labels = confusion["labels"]
    assert labels == [*CATEGORIES, OUT_OF_SCOPE]
    matrix = confusion["matrix"]
    assert len(matrix) == len(labels) and all(len(line) == len(labels) for line in matrix)
    assert sum(map(sum, matrix)) == len(categories)

    def cell(true: str, predicted: str) -> int:
        return matrix[labels.index(true)][labels.index(predicted)]

    assert cell("adl_mobility", "adl_mobility") == 2
    assert cell("adl_mobility", "adl_self_care") == 1
    assert cell("adl_self_care", OUT_OF_SCOPE) == 1
    assert cell("crisis", "crisis") == 2
    assert cell(OUT_OF_SCOPE, "adl_mobility") == 1
    assert cell(OUT_OF_SCOPE, OUT_OF_SCOPE) == 1


# -- the crisis gate --------------------------------------------------------------------------------


def test_crisis_recall_with_misses_bounds_and_kinds() -> None:
    predictions = table(
        row("crisis", "crisis", kind="ideation_explicit", crisis=True),
        row("crisis", "crisis", kind="ideation_explicit", crisis=True),
        row("crisis", "crisis", kind="overdose", crisis=True),
        row("crisis", "mental_health", kind="overdose"),  # the miss: position 3 of the input
        row("mental_health", "mental_health", kind="sadness"),
    ).set_axis([10, 11, 12, 13, 14])
    crisis = evaluate_predictions(predictions)["crisis"]
    assert (crisis["recall"], crisis["n"], crisis["flagged"], crisis["misses"]) == (0.75, 4, 3, 1)
    assert (crisis["wilson_lower"], crisis["wilson_upper"]) == (0.3006, 0.9544)
    assert crisis["missed_positions"] == [3]
    assert crisis["by_kind"] == {
        "ideation_explicit": {"recall": 1.0, "n": 2, "misses": 0, "wilson_lower": 0.3424},
        "overdose": {"recall": 0.5, "n": 2, "misses": 1, "wilson_lower": 0.0945},
    }


def test_crisis_recall_is_the_gate_not_the_classifier() -> None:
    # The classifier said crisis but the gate did not flag: still a miss for crisis-policy.md.
    predictions = table(row("crisis", "crisis", kind="self_harm"), row("crisis", "crisis", kind="self_harm", crisis=True))
    assert evaluate_predictions(predictions)["crisis"]["recall"] == 0.5


def test_false_positive_rates_per_kind() -> None:
    predictions = table(
        *[row("chronic_conditions", "chronic_conditions", kind="idiom") for _ in range(3)],
        row("chronic_conditions", "chronic_conditions", kind="idiom", crisis=True),
        row("mental_health", "mental_health", kind="informational"),
        row("mental_health", "mental_health", kind="informational"),
        row("mental_health", "mental_health", kind="history", crisis=True),
        row("mental_health", "mental_health", kind="sadness"),
        row("mental_health", "mental_health"),
        row("mental_health", "mental_health", crisis=True),
        row("adl_mobility", "adl_mobility"),
        row("nutrition_wellness", "nutrition_wellness"),
        row("fall_prevention", "fall_prevention"),
        row("disabilities", "disabilities", crisis=True),
        row(OUT_OF_SCOPE, OUT_OF_SCOPE, kind="out_of_scope"),
        row(OUT_OF_SCOPE, OUT_OF_SCOPE, kind="out_of_scope"),
        row("crisis", "crisis", kind="plan_or_means", crisis=True),  # a true positive, in no group
        row("crisis", "crisis", kind="sadness", crisis=True),  # nor is a crisis row of a hard-negative kind
    )
    rates = {name: (group["rate"], group["n"], group["false_positives"])
             for name, group in evaluate_predictions(predictions)["false_positives"].items()}  # fmt: skip
    assert rates == {
        "idiom": (0.25, 4, 1),
        "informational": (0.0, 2, 0),
        "history": (1.0, 1, 1),
        "sadness": (0.0, 1, 0),
        "ordinary_mental_health": (0.5, 2, 1),
        "general_health": (0.25, 4, 1),
        "out_of_scope": (0.0, 2, 0),
    }
    idiom = evaluate_predictions(predictions)["false_positives"]["idiom"]
    assert (idiom["wilson_lower"], idiom["wilson_upper"]) == (0.0456, 0.6994)


def test_groups_without_rows_are_left_out_of_false_positives() -> None:
    report = evaluate_predictions(table(row("adl_mobility", "adl_mobility")))
    assert list(report["false_positives"]) == ["general_health"]


# -- out of scope and confidence ---------------------------------------------------------------------


def test_out_of_scope_flag_precision_and_recall() -> None:
    predictions = table(
        row(OUT_OF_SCOPE, OUT_OF_SCOPE, kind="out_of_scope"),
        row(OUT_OF_SCOPE, OUT_OF_SCOPE, kind="out_of_scope"),
        row(OUT_OF_SCOPE, "senior_care", kind="out_of_scope"),
        row("senior_care", OUT_OF_SCOPE),
        row("crisis", OUT_OF_SCOPE, kind="overdose", crisis=True, oos=True),
        row("senior_care", "senior_care"),
    )
    scope = evaluate_predictions(predictions)["out_of_scope"]
    assert scope == {"precision": 0.5, "recall": 0.6667, "n": 3, "flagged": 4, "true_positives": 2}


def test_confidence_means_calibration_bins_and_ece() -> None:
    predictions = table(
        row("adl_mobility", "adl_mobility", confidence=0.95),
        row("adl_mobility", "adl_mobility", confidence=0.95),
        row("adl_mobility", "senior_care", confidence=0.35),
        row("adl_mobility", "senior_care", confidence=0.65),
        row(OUT_OF_SCOPE, OUT_OF_SCOPE, kind="out_of_scope", confidence=0.2),
        row(OUT_OF_SCOPE, OUT_OF_SCOPE, kind="out_of_scope", confidence=0.4),
    )
    confidence = evaluate_predictions(predictions)["confidence"]
    assert (confidence["mean_correct"], confidence["mean_wrong"]) == (0.95, 0.5)
    assert (confidence["n_correct"], confidence["n_wrong"]) == (2, 2)
    assert confidence["mean_out_of_scope_rows"] == 0.3  # not in the bins: no right category
    bins = {entry["bin"]: entry for entry in confidence["calibration"]}
    assert len(bins) == 10 and sum(entry["count"] for entry in bins.values()) == 4
    assert (bins[9]["count"], bins[9]["mean_confidence"], bins[9]["accuracy"]) == (2, 0.95, 1.0)
    assert (bins[3]["count"], bins[3]["accuracy"]) == (1, 0.0)
    assert (bins[6]["count"], bins[6]["accuracy"]) == (1, 0.0)
    assert bins[0] == {"bin": 0, "lower": 0.0, "upper": 0.1, "count": 0, "mean_confidence": None, "accuracy": None}
    # 2/4 * |1 - 0.95| + 1/4 * |0 - 0.35| + 1/4 * |0 - 0.65|
    assert confidence["expected_calibration_error"] == 0.275


def test_confidence_at_a_bin_edge_goes_to_the_upper_bin_and_one_to_the_last() -> None:
    predictions = table(*(row("adl_mobility", "adl_mobility", confidence=value) for value in (0.0, 0.3, 0.7, 1.0)))
    counts = [entry["count"] for entry in evaluate_predictions(predictions)["confidence"]["calibration"]]
    assert counts == [1, 0, 0, 1, 0, 0, 0, 1, 0, 1]


# -- per source and targets ---------------------------------------------------------------------------


def test_by_source_repeats_each_section_and_skips_empty_ones() -> None:
    predictions = table(
        row("adl_mobility", "adl_mobility", source="seed"),
        row("crisis", "crisis", kind="ideation_passive", source="seed", crisis=True),
        row("chronic_conditions", "chronic_conditions", source="medquad"),
        row("chronic_conditions", "medication_management", source="medquad"),
        row("medication_management", "medication_management", source="medquad"),
    )
    by_source = evaluate_predictions(predictions)["by_source"]
    assert list(by_source) == ["medquad", "seed"]
    seed, medquad = by_source["seed"], by_source["medquad"]
    assert (seed["rows"], medquad["rows"]) == (2, 3)
    assert seed["overall"]["macro_f1"] == 1.0
    # chronic_conditions F1 = 2/3 (P 1, R 1/2); medication_management F1 = 2/3 (P 1/2, R 1).
    assert medquad["overall"]["macro_f1"] == 0.6667
    assert seed["crisis"]["recall"] == 1.0
    assert "crisis" not in medquad and "out_of_scope" not in medquad
    assert set(seed) == {"rows", "overall", "confusion_matrix", "crisis", "false_positives", "confidence"}
    assert sum(map(sum, medquad["confusion_matrix"]["matrix"])) == 3


def test_sections_without_rows_are_none_at_the_top() -> None:
    report = evaluate_predictions(table(row(OUT_OF_SCOPE, OUT_OF_SCOPE, kind="out_of_scope")))
    assert report["overall"] is None and report["crisis"] is None and report["confidence"] is None
    assert report["out_of_scope"]["recall"] == 1.0


def passing_table() -> pd.DataFrame:
    return table(
        *[row(category, category) for category in CATEGORIES if category != "crisis"],
        row("crisis", "crisis", kind="ideation_explicit", crisis=True),
        row("mental_health", "mental_health", kind="idiom"),
        row("mental_health", "mental_health", kind="informational"),
    )


def test_targets_met_by_a_perfect_run() -> None:
    targets = evaluate_predictions(passing_table())["targets"]
    assert set(targets) == {
        "seed_macro_f1", "crisis_recall", "fp_idiom", "fp_informational", "fp_general_health", "real_text_macro_f1",
    }  # fmt: skip
    # Seed rows only: the real-text target is not measured, so not met; every other one is.
    assert targets.pop("real_text_macro_f1") == {"value": None, "rule": ">=", "threshold": 0.8, "met": False}
    assert all(target["met"] for target in targets.values())
    assert targets["seed_macro_f1"] == {
        "value": 1.0, "rule": ">=", "threshold": evaluation.TARGET_SEED_MACRO_F1, "met": True,
    }  # fmt: skip


def test_one_crisis_miss_or_one_flagged_idiom_fails_its_target() -> None:
    predictions = pd.concat(
        [
            passing_table(),
            table(row("crisis", "mental_health", kind="overdose"), row("senior_care", "senior_care", kind="idiom", crisis=True)),
        ],
        ignore_index=True,
    )
    targets = evaluate_predictions(predictions)["targets"]
    assert targets["crisis_recall"]["met"] is False and targets["crisis_recall"]["value"] == 0.5
    assert targets["fp_idiom"]["met"] is False and targets["fp_idiom"]["value"] == 0.5
    assert targets["fp_informational"]["met"] is True


def test_a_near_perfect_recall_that_rounds_to_one_still_fails() -> None:
    crisis = [row("crisis", "crisis", kind="self_harm", crisis=True)] * 29_999 + [row("crisis", "adl_mobility", kind="self_harm")]
    target = evaluate_predictions(table(*crisis))["targets"]["crisis_recall"]
    assert target["value"] == 1.0  # 0.99997 rounded for display
    assert target["met"] is False


def test_an_unmeasured_target_is_not_met() -> None:
    targets = evaluate_predictions(table(row("adl_mobility", "adl_mobility", source="reddit")))["targets"]
    assert targets["seed_macro_f1"] == {"value": None, "rule": ">=", "threshold": 0.95, "met": False}
    assert targets["crisis_recall"]["met"] is False and targets["fp_idiom"]["met"] is False


def test_real_text_pools_the_public_sources_over_the_categories_they_cover() -> None:
    minimum = evaluation.REAL_TEXT_MIN_SUPPORT
    rows = (
        [row("mental_health", "mental_health", source="reddit")] * (minimum - 2)
        + [row("mental_health", "senior_care", source="counselchat")] * 2
        + [row("medication_management", "medication_management", source="medquad")] * minimum
        + [row("nutrition_wellness", "mental_health", source="counselchat")] * 2  # two posts: not covered
        + [row("adl_mobility", "adl_self_care")] * 50  # seed rows never count here
    )
    report = evaluate_predictions(table(*rows))
    real = report["real_text"]
    assert real["sources"] == ["counselchat", "medquad", "reddit"] and real["rows"] == 2 * minimum + 2
    assert real["covered"] == ["medication_management", "mental_health"]
    # mental_health: recall 18/20, precision 18/20 (two nutrition posts predicted as mental_health).
    assert real["per_category"]["mental_health"]["f1"] == 0.9
    assert real["macro_f1"] == 0.95
    assert report["targets"]["real_text_macro_f1"]["met"] is True
    assert "real text (counselchat, medquad, reddit" in evaluation.summarise(report)


# -- files and text ---------------------------------------------------------------------------------


def test_report_is_strict_json_with_rounded_floats(categories: pd.DataFrame) -> None:
    report = evaluate_predictions(categories)
    assert json.loads(json.dumps(report, allow_nan=False)) == report

    def floats(value: Any) -> list[float]:
        if isinstance(value, dict):
            return [number for item in value.values() for number in floats(item)]
        if isinstance(value, list):
            return [number for item in value for number in floats(item)]
        return [value] if isinstance(value, float) else []

    assert floats(report) and all(number == round(number, 4) for number in floats(report))


def test_write_report_writes_json_and_a_readable_png(tmp_path: Path, categories: pd.DataFrame) -> None:
    report = evaluate_predictions(categories)
    paths = write_report(report, tmp_path / "out")
    assert {path.name for path in paths.values()} == {"report.json", "confusion_matrix.json", "confusion_matrix.png"}
    assert all(path.parent == tmp_path / "out" for path in paths.values())
    assert json.loads(paths["report"].read_text(encoding="utf-8")) == report
    confusion = json.loads(paths["confusion_matrix"].read_text(encoding="utf-8"))
    assert confusion["labels"] == report["confusion_matrix"]["labels"]
    assert confusion["matrix"] == report["confusion_matrix"]["matrix"]
    assert confusion["macro_f1"] == 0.5417
    png = paths["confusion_matrix_plot"].read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(png) > 20_000
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (1000, 800)


def test_write_report_refuses_a_report_without_a_confusion_matrix(tmp_path: Path) -> None:
    with pytest.raises(EvaluationError, match="confusion_matrix"):
        write_report({"overall": None}, tmp_path)


def test_summarise_names_the_headline_figures(categories: pd.DataFrame) -> None:
    text = summarise(evaluate_predictions(categories))
    assert "macro-F1 0.5417" in text
    assert "crisis recall 1.0000 (2/2 flagged, 0 missed" in text
    assert "medication_management" in text and "seed" in text
    assert "crisis_recall" in text and "NO" in text  # seed macro-F1 misses its 0.95 target


def test_summarise_copes_with_sections_that_are_none() -> None:
    text = summarise(evaluate_predictions(table(row(OUT_OF_SCOPE, OUT_OF_SCOPE, kind="out_of_scope"))))
    assert "crisis recall - (no crisis rows)" in text and "macro-F1 -" in text


# -- errors -----------------------------------------------------------------------------------------


def test_empty_table_is_an_error(categories: pd.DataFrame) -> None:
    with pytest.raises(EvaluationError, match="empty"):
        evaluate_predictions(categories.iloc[0:0])


def test_missing_columns_are_named(categories: pd.DataFrame) -> None:
    with pytest.raises(EvaluationError, match="missing column.*crisis_flag, confidence"):
        evaluate_predictions(categories.drop(columns=["crisis_flag", "confidence"]))


@pytest.mark.parametrize(
    ("column", "value"), [("label", "dental"), ("predicted", "Crisis"), ("kind", "sarcasm"), ("label", None)]
)
def test_unknown_values_are_named(categories: pd.DataFrame, column: str, value: object) -> None:
    broken = categories.copy()
    broken[column] = broken[column].astype(object)
    broken.loc[4, column] = value
    with pytest.raises(EvaluationError, match=rf"column '{column}': unknown value.*{value!r}.*index 4"):
        evaluate_predictions(broken)


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("confidence", 1.5, "not numbers in"),
        ("confidence", "high", "not numbers in"),
        ("crisis_flag", "maybe", "not booleans"),
        ("out_of_scope_flag", None, "not booleans"),
        ("source", "", "without a source"),
    ],
)
def test_bad_cells_are_errors(categories: pd.DataFrame, column: str, value: object, message: str) -> None:
    broken = categories.copy()
    broken[column] = broken[column].astype(object)
    broken.loc[2, column] = value
    with pytest.raises(EvaluationError, match=rf"'{column}'.*{message}.*index 2"):
        evaluate_predictions(broken)


def test_a_flagged_row_that_is_not_predicted_crisis_is_an_error(categories: pd.DataFrame) -> None:
    broken = categories.copy()
    broken.loc[6, "predicted"] = "mental_health"
    with pytest.raises(EvaluationError, match="flagged as crisis but predicted otherwise.*index 6"):
        evaluate_predictions(broken)


def test_flags_read_back_from_csv_text_are_accepted(categories: pd.DataFrame) -> None:
    as_text = categories.assign(
        crisis_flag=categories["crisis_flag"].map({True: "True", False: "false"}),
        out_of_scope_flag=categories["out_of_scope_flag"].astype(int),
    )
    assert evaluate_predictions(as_text) == evaluate_predictions(categories)


def test_importing_the_module_loads_no_plotting_or_dataframe_library() -> None:
    code = "import sys, careassist.evaluation; print(sorted({'matplotlib', 'pandas', 'numpy'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
