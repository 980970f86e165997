"""Metrics and report of an evaluation: category quality, the crisis gate, out-of-scope and calibration.

The input is a predictions table, one row per labelled message with the assistant's decisions (the
code that runs a model over a labelled file builds it); the output is a JSON-serialisable report,
its files and a short text summary. Sections follow ``../shared/spec/crisis-policy.md``: crisis
recall with its Wilson 95% bounds, and false-positive rates of the crisis gate per hard-negative kind.
"""

from __future__ import annotations

import json
import math
import numbers
import operator
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from careassist.corpus import SEED_SOURCE
from careassist.taxonomy import (
    CATEGORIES,
    DATA_LABELS,
    GENERAL_KIND,
    HARD_NEGATIVE_KINDS,
    KINDS,
    OUT_OF_SCOPE,
)

if TYPE_CHECKING:
    import pandas as pd

PREDICTION_COLUMNS: tuple[str, ...] = (
    "label",
    "kind",
    "source",
    "predicted",
    "crisis_flag",
    "out_of_scope_flag",
    "confidence",
)
CRISIS = "crisis"
MENTAL_HEALTH = "mental_health"

#: Rows and columns of the confusion matrix: the 11 categories, then out of scope.
CONFUSION_LABELS: tuple[str, ...] = DATA_LABELS
CALIBRATION_BINS = 10
DECIMALS = 4
WILSON_Z_95 = 1.959964

#: Promotion targets. The crisis target is crisis-policy.md's "100% observed recall".
TARGET_SEED_MACRO_F1 = 0.95
TARGET_CRISIS_RECALL = 1.0
#: Idioms and informational questions: the crisis gate may flag fewer than this share of them.
TARGET_HARD_NEGATIVE_FP_RATE = 0.05
TARGET_GENERAL_HEALTH_FP_RATE = 0.02
#: Real public text (every source but the seed corpus), pooled: macro-F1 over the categories it covers ...
TARGET_REAL_TEXT_MACRO_F1 = 0.80
#: ... a category counting as covered with at least this many in-scope rows of real text.
REAL_TEXT_MIN_SUPPORT = 20

REPORT_FILE = "report.json"
CONFUSION_FILE = "confusion_matrix.json"
CONFUSION_PLOT_FILE = "confusion_matrix.png"

_RULES: dict[str, Callable[[float, float], bool]] = {">=": operator.ge, "==": operator.eq, "<": operator.lt}
_FLAG_VALUES: dict[object, bool] = {True: True, False: False, "true": True, "false": False}


class EvaluationError(ValueError):
    """A predictions table that cannot be scored; the message names the column and value at fault."""


def wilson_interval(successes: int, total: int, z: float = WILSON_Z_95) -> tuple[float, float]:
    """Wilson score interval of a proportion; unlike the normal interval it stays honest at 0/n and n/n."""
    if total < 0 or not 0 <= successes <= total:
        raise ValueError(f"wilson_interval: need 0 <= successes <= total, got {successes}/{total}")
    if total == 0:
        return (0.0, 1.0)
    share = successes / total
    z2 = z * z
    denominator = 1 + z2 / total
    centre = (share + z2 / (2 * total)) / denominator
    half_width = z * math.sqrt(share * (1 - share) / total + z2 / (4 * total * total)) / denominator
    # The bounds at 0/n and n/n are exactly 0 and 1; rounding error must not move them.
    lower = 0.0 if successes == 0 else max(0.0, centre - half_width)
    upper = 1.0 if successes == total else min(1.0, centre + half_width)
    return (lower, upper)


# -- checking the table ---------------------------------------------------------------------------


def _first_index(mask: pd.Series) -> str:
    """The index label of the first True row, as a user would write it (6, not np.int64(6))."""
    label = mask[mask].index[0]
    return repr(label.item() if hasattr(label, "item") else label)


def _check_values(table: pd.DataFrame, column: str, allowed: tuple[str, ...]) -> None:
    unknown = ~table[column].isin(allowed)
    if unknown.any():
        shown = sorted({repr(value) for value in table.loc[unknown, column]})
        more = f" and {len(shown) - 5} more" if len(shown) > 5 else ""
        raise EvaluationError(
            f"predictions column {column!r}: unknown value(s) {', '.join(shown[:5])}{more} in {int(unknown.sum())} "
            f"row(s), first at index {_first_index(unknown)}; expected one of {', '.join(allowed)}"
        )


def _flag_column(table: pd.DataFrame, column: str) -> pd.Series:
    values = table[column]
    if values.dtype == bool:
        return values

    def coerce(value: object) -> bool | None:
        key = value.strip().lower() if isinstance(value, str) else value
        try:
            return _FLAG_VALUES.get(key)
        except TypeError:  # an unhashable cell is simply not a flag
            return None

    flags = values.map(coerce)
    bad = flags.isna()
    if bad.any():
        raise EvaluationError(
            f"predictions column {column!r}: {int(bad.sum())} value(s) are not booleans, first "
            f"{values[bad].iloc[0]!r} at index {_first_index(bad)}"
        )
    return flags.astype(bool)


def _confidence_column(table: pd.DataFrame) -> pd.Series:
    import pandas as pd

    values = pd.to_numeric(table["confidence"], errors="coerce").astype(float)
    bad = values.isna() | (values < 0.0) | (values > 1.0)
    if bad.any():
        raise EvaluationError(
            f"predictions column 'confidence': {int(bad.sum())} value(s) are not numbers in [0, 1], first "
            f"{table['confidence'][bad].iloc[0]!r} at index {_first_index(bad)}"
        )
    return values


def _checked_table(predictions: pd.DataFrame) -> pd.DataFrame:
    """The predictions with their columns checked and typed, indexed by position in the input."""
    import pandas as pd

    if not isinstance(predictions, pd.DataFrame):
        raise TypeError(f"predictions must be a pandas DataFrame, got {type(predictions).__name__}")
    if len(predictions) == 0:
        raise EvaluationError("predictions table is empty: there is nothing to evaluate")
    missing = [column for column in PREDICTION_COLUMNS if column not in predictions.columns]
    if missing:
        raise EvaluationError(
            f"predictions table: missing column(s) {', '.join(missing)}; needs {', '.join(PREDICTION_COLUMNS)}"
        )
    table = predictions[list(PREDICTION_COLUMNS)].copy()
    _check_values(table, "label", DATA_LABELS)
    _check_values(table, "predicted", DATA_LABELS)
    _check_values(table, "kind", KINDS)
    blank = ~table["source"].map(lambda value: isinstance(value, str) and value.strip() != "").astype(bool)
    if blank.any():
        raise EvaluationError(
            f"predictions column 'source': {int(blank.sum())} row(s) without a source name, "
            f"first at index {_first_index(blank)}"
        )
    table["crisis_flag"] = _flag_column(table, "crisis_flag")
    table["out_of_scope_flag"] = _flag_column(table, "out_of_scope_flag")
    table["confidence"] = _confidence_column(table)
    # The producer's contract: a flagged message is answered as a crisis whatever the classifier said.
    broken = table["crisis_flag"] & (table["predicted"] != CRISIS)
    if broken.any():
        raise EvaluationError(
            f"predictions columns 'crisis_flag'/'predicted': {int(broken.sum())} row(s) flagged as crisis but "
            f"predicted otherwise, first at index {_first_index(broken)} "
            f"(predicted {table.loc[broken, 'predicted'].iloc[0]!r})"
        )
    # Positions as the index: crisis misses are reported by position, also within a source's rows.
    return table.reset_index(drop=True)


# -- sections ---------------------------------------------------------------------------------------


def _ratio(part: int, whole: int) -> float | None:
    """A share, or None where it is undefined (nothing to divide by)."""
    return part / whole if whole else None


def _in_scope(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["label"].isin(CATEGORIES)]


def _overall(table: pd.DataFrame) -> dict[str, Any] | None:
    """Per-category precision/recall/F1 on in-scope rows; an out-of-scope answer counts as wrong."""
    scope = _in_scope(table)
    if scope.empty:
        return None
    per_category: dict[str, dict[str, Any]] = {}
    f1_scores: list[float] = []
    for category in CATEGORIES:
        truth = scope["label"] == category
        guess = scope["predicted"] == category
        hits = int((truth & guess).sum())
        support = int(truth.sum())
        predicted = int(guess.sum())
        # 2tp / (2tp + fp + fn): the harmonic mean of P and R, and still defined when P is not.
        f1 = _ratio(2 * hits, support + predicted)
        per_category[category] = {
            "precision": _ratio(hits, predicted),
            "recall": _ratio(hits, support),
            "f1": f1,
            "support": support,
            "predicted": predicted,
        }
        if support and f1 is not None:
            f1_scores.append(f1)
    correct = int((scope["predicted"] == scope["label"]).sum())
    return {
        "per_category": per_category,
        "macro_f1": sum(f1_scores) / len(f1_scores),
        "accuracy": correct / len(scope),
        "rows": len(scope),
        "answered_out_of_scope": int((scope["predicted"] == OUT_OF_SCOPE).sum()),
    }


def _confusion_matrix(table: pd.DataFrame) -> dict[str, Any]:
    """Counts of true label (rows) by predicted label (columns), out-of-scope rows included."""
    import numpy as np

    index = {label: position for position, label in enumerate(CONFUSION_LABELS)}
    counts = np.zeros((len(CONFUSION_LABELS), len(CONFUSION_LABELS)), dtype=int)
    np.add.at(counts, (table["label"].map(index).to_numpy(), table["predicted"].map(index).to_numpy()), 1)
    return {"labels": list(CONFUSION_LABELS), "matrix": counts.tolist()}


def _share_with_bounds(flags: pd.Series, name: str, count_name: str) -> dict[str, Any]:
    """A share of True flags as ``name``, its count, n and Wilson 95% bounds."""
    count = int(flags.sum())
    total = len(flags)
    lower, upper = wilson_interval(count, total)
    return {name: count / total, "n": total, count_name: count, "wilson_lower": lower, "wilson_upper": upper}


def _crisis(table: pd.DataFrame) -> dict[str, Any] | None:
    """Recall of the crisis gate on crisis rows, overall and per crisis kind, with the missed rows."""
    rows = table[table["label"] == CRISIS]
    if rows.empty:
        return None
    section = _share_with_bounds(rows["crisis_flag"], "recall", "flagged")
    section["misses"] = section["n"] - section["flagged"]
    # 0-based positions in the input table (``.iloc``), so every miss can be found and turned into a test.
    section["missed_positions"] = [int(position) for position in rows.index[~rows["crisis_flag"]]]
    present = set(rows["kind"])
    by_kind = {}
    for kind in (kind for kind in KINDS if kind in present):
        flags = rows.loc[rows["kind"] == kind, "crisis_flag"]
        stats = _share_with_bounds(flags, "recall", "flagged")
        by_kind[kind] = {
            "recall": stats["recall"],
            "n": stats["n"],
            "misses": stats["n"] - stats["flagged"],
            "wilson_lower": stats["wilson_lower"],
        }
    section["by_kind"] = by_kind
    return section


def _false_positive_groups(table: pd.DataFrame) -> dict[str, pd.Series]:
    """Masks of the non-crisis groups whose crisis-flag rate crisis-policy.md wants reported."""
    label, kind = table["label"], table["kind"]
    not_crisis = label != CRISIS
    groups = {name: not_crisis & (kind == name) for name in HARD_NEGATIVE_KINDS}
    groups["ordinary_mental_health"] = (label == MENTAL_HEALTH) & (kind == GENERAL_KIND)
    groups["general_health"] = (kind == GENERAL_KIND) & label.isin(CATEGORIES) & ~label.isin((CRISIS, MENTAL_HEALTH))
    groups["out_of_scope"] = label == OUT_OF_SCOPE
    return groups


def _false_positives(table: pd.DataFrame) -> dict[str, Any] | None:
    """Crisis-flag false-positive rate per group; groups without rows are left out."""
    section = {
        name: _share_with_bounds(table.loc[mask, "crisis_flag"], "rate", "false_positives")
        for name, mask in _false_positive_groups(table).items()
        if mask.any()
    }
    return section or None


def _out_of_scope(table: pd.DataFrame) -> dict[str, Any] | None:
    """Precision and recall of the out-of-scope flag against rows labelled out of scope."""
    truth = table["label"] == OUT_OF_SCOPE
    flags = table["out_of_scope_flag"]
    if not truth.any() and not flags.any():
        return None
    hits = int((truth & flags).sum())
    return {
        "precision": _ratio(hits, int(flags.sum())),
        "recall": _ratio(hits, int(truth.sum())),
        "n": int(truth.sum()),
        "flagged": int(flags.sum()),
        "true_positives": hits,
    }


def _confidence(table: pd.DataFrame) -> dict[str, Any] | None:
    """Mean confidence when right and wrong, a reliability table and the expected calibration error.

    Measured on in-scope rows against the final prediction (a crisis-gate flag counts as predicting
    ``crisis``; an out-of-scope answer counts as wrong), the same population as ``overall``.
    """
    import numpy as np

    scope = _in_scope(table)
    if scope.empty:
        return None
    confidence = scope["confidence"].to_numpy(dtype=float)
    correct = (scope["predicted"] == scope["label"]).to_numpy()
    # Bins are [k/10, (k+1)/10); a confidence of exactly 1.0 belongs to the last one.
    bins = np.minimum(np.floor(confidence * CALIBRATION_BINS), CALIBRATION_BINS - 1).astype(int)
    calibration = []
    error = 0.0
    for number in range(CALIBRATION_BINS):
        in_bin = bins == number
        count = int(in_bin.sum())
        mean_confidence = float(confidence[in_bin].mean()) if count else None
        accuracy = float(correct[in_bin].mean()) if count else None
        if count and mean_confidence is not None and accuracy is not None:
            error += count / len(scope) * abs(accuracy - mean_confidence)
        calibration.append(
            {
                "bin": number,
                "lower": number / CALIBRATION_BINS,
                "upper": (number + 1) / CALIBRATION_BINS,
                "count": count,
                "mean_confidence": mean_confidence,
                "accuracy": accuracy,
            }
        )
    outside = table.loc[table["label"] == OUT_OF_SCOPE, "confidence"]
    return {
        "mean_correct": float(confidence[correct].mean()) if correct.any() else None,
        "mean_wrong": float(confidence[~correct].mean()) if (~correct).any() else None,
        "n_correct": int(correct.sum()),
        "n_wrong": int((~correct).sum()),
        # How sure the classifier is on messages it should not answer: the out-of-scope threshold's margin.
        "mean_out_of_scope_rows": float(outside.mean()) if len(outside) else None,
        "calibration": calibration,
        "expected_calibration_error": error,
    }


def _sections(table: pd.DataFrame) -> dict[str, Any]:
    return {
        "overall": _overall(table),
        "confusion_matrix": _confusion_matrix(table),
        "crisis": _crisis(table),
        "false_positives": _false_positives(table),
        "out_of_scope": _out_of_scope(table),
        "confidence": _confidence(table),
    }


def _real_text(table: pd.DataFrame) -> dict[str, Any] | None:
    """The rows of every source but the seed corpus, pooled: macro-F1 over the categories they cover
    (at least ``REAL_TEXT_MIN_SUPPORT`` in-scope rows), so that a category two posts happen to carry
    neither counts nor hides."""
    real = table[table["source"] != SEED_SOURCE]
    overall = _overall(real)
    if overall is None:
        return None
    covered = [c for c, stats in overall["per_category"].items() if stats["support"] >= REAL_TEXT_MIN_SUPPORT]
    scores = [overall["per_category"][c]["f1"] for c in covered]
    return {
        "rows": len(real),
        "sources": sorted(str(s) for s in real["source"].unique()),
        "min_support": REAL_TEXT_MIN_SUPPORT,
        "covered": covered,
        "macro_f1": sum(scores) / len(scores) if scores else None,
        "per_category": {c: overall["per_category"][c] for c in covered},
    }


def _target(value: float | None, rule: str, threshold: float) -> dict[str, Any]:
    """One target; a value that could not be measured does not meet it."""
    met = value is not None and _RULES[rule](value, threshold)
    return {"value": value, "rule": rule, "threshold": threshold, "met": met}


def _targets(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The promotion targets, judged on unrounded values (a 0.99996 recall is not 1)."""
    seed = (report["by_source"].get(SEED_SOURCE) or {}).get("overall")
    crisis = report["crisis"]
    false_positives = report["false_positives"] or {}

    def rate(group: str) -> float | None:
        return (false_positives.get(group) or {}).get("rate")

    return {
        "seed_macro_f1": _target(seed["macro_f1"] if seed else None, ">=", TARGET_SEED_MACRO_F1),
        "crisis_recall": _target(crisis["recall"] if crisis else None, "==", TARGET_CRISIS_RECALL),
        "fp_idiom": _target(rate("idiom"), "<", TARGET_HARD_NEGATIVE_FP_RATE),
        "fp_informational": _target(rate("informational"), "<", TARGET_HARD_NEGATIVE_FP_RATE),
        "fp_general_health": _target(rate("general_health"), "<", TARGET_GENERAL_HEALTH_FP_RATE),
        "real_text_macro_f1": _target((report.get("real_text") or {}).get("macro_f1"), ">=", TARGET_REAL_TEXT_MACRO_F1),
    }


def _rounded(value: Any) -> Any:
    """The report with floats rounded and numpy scalars turned into plain Python numbers."""
    if isinstance(value, dict):
        return {key: _rounded(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(item) for item in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        return round(number, DECIMALS) if math.isfinite(number) else None
    return value


def evaluate_predictions(predictions: pd.DataFrame) -> dict[str, Any]:
    """The evaluation report of a predictions table (see the module docstring and PREDICTION_COLUMNS).

    Top-level sections with no rows to measure are ``None``; in ``by_source`` they are left out.
    """
    table = _checked_table(predictions)
    report: dict[str, Any] = {"rows": len(table), **_sections(table)}
    report["by_source"] = {
        str(source): {
            "rows": len(group),
            **{name: section for name, section in _sections(group).items() if section is not None},
        }
        for source, group in table.groupby("source")
    }
    report["real_text"] = _real_text(table)
    report["targets"] = _targets(report)
    rounded: dict[str, Any] = _rounded(report)
    return rounded


# -- files and text ---------------------------------------------------------------------------------


def _plot_confusion_matrix(confusion: dict[str, Any], macro_f1: float | None, path: Path) -> None:
    """Heatmap coloured by each true label's share, with the counts written in the cells."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    labels = list(confusion["labels"])
    counts = np.asarray(confusion["matrix"], dtype=int)
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)

    # Figure + the Agg canvas rather than pyplot: no global backend switch, safe in a server thread.
    figure = Figure(figsize=(10, 8), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    image = axes.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    figure.colorbar(image, ax=axes, label="share of the true label's rows")
    positions = list(range(len(labels)))
    axes.set_xticks(positions, labels=labels, rotation=45, ha="right", rotation_mode="anchor")
    axes.set_yticks(positions, labels=labels)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true label")
    for (row, column), count in np.ndenumerate(counts):
        colour = "white" if shares[row, column] > 0.5 else ("black" if count else "0.65")
        axes.text(column, row, str(count), ha="center", va="center", color=colour, fontsize=9)
    score = "n/a" if macro_f1 is None else f"{macro_f1:.4f}"
    axes.set_title(f"Confusion matrix: macro-F1 {score}, {int(counts.sum())} rows (colour = share of the row)")
    figure.savefig(path, dpi=100)


def write_report(report: dict[str, Any], out_dir: Path) -> dict[str, Path]:
    """Write report.json, confusion_matrix.json and confusion_matrix.png into out_dir; returns their paths."""
    confusion = report.get("confusion_matrix")
    if not confusion:
        raise EvaluationError("report has no 'confusion_matrix' section: pass the output of evaluate_predictions")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "report": out_dir / REPORT_FILE,
        "confusion_matrix": out_dir / CONFUSION_FILE,
        "confusion_matrix_plot": out_dir / CONFUSION_PLOT_FILE,
    }
    macro_f1 = (report.get("overall") or {}).get("macro_f1")
    # allow_nan=False: the files must be strict JSON that any reader (and MLflow's UI) accepts.
    paths["report"].write_text(json.dumps(report, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    paths["confusion_matrix"].write_text(
        json.dumps({**confusion, "macro_f1": macro_f1}, indent=2, allow_nan=False) + "\n", encoding="utf-8"
    )
    _plot_confusion_matrix(confusion, macro_f1, paths["confusion_matrix_plot"])
    return paths


def _number(value: float | None, width: int = 8) -> str:
    if value is None:
        return "-".rjust(width)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value).rjust(width)
    return f"{value:.4f}".rjust(width)


def summarise(report: dict[str, Any]) -> str:
    """A short text table of the report for the command line."""
    overall = report.get("overall") or {}
    headline = (
        f"rows {report.get('rows', 0)} (in scope {overall.get('rows', 0)})   "
        f"accuracy {_number(overall.get('accuracy'), 0)}   macro-F1 {_number(overall.get('macro_f1'), 0)}"
    )
    lines = [headline]
    crisis = report.get("crisis")
    if crisis:
        lines.append(
            f"crisis recall {_number(crisis['recall'], 0)} ({crisis['flagged']}/{crisis['n']} flagged, "
            f"{crisis['misses']} missed; Wilson 95% {crisis['wilson_lower']:.4f}-{crisis['wilson_upper']:.4f})"
        )
    else:
        lines.append("crisis recall - (no crisis rows)")
    scope = report.get("out_of_scope")
    if scope:
        lines.append(
            f"out-of-scope flag precision {_number(scope['precision'], 0)} recall {_number(scope['recall'], 0)} "
            f"(n {scope['n']}, flagged {scope['flagged']})"
        )
    confidence = report.get("confidence")
    if confidence:
        lines.append(
            f"confidence correct {_number(confidence['mean_correct'], 0)} wrong {_number(confidence['mean_wrong'], 0)}"
            f"   ECE {_number(confidence['expected_calibration_error'], 0)}"
        )
    if overall:
        lines += ["", f"{'category':<24}{'precision':>10}{'recall':>8}{'f1':>8}{'support':>9}"]
        for category, stats in overall["per_category"].items():
            lines.append(
                f"{category:<24}{_number(stats['precision'], 10)}{_number(stats['recall'])}"
                f"{_number(stats['f1'])}{_number(stats['support'], 9)}"
            )
    false_positives = report.get("false_positives")
    if false_positives:
        lines += ["", f"{'crisis false positives':<24}{'rate':>10}{'n':>8}{'flagged':>8}{'upper95':>9}"]
        for group, stats in false_positives.items():
            lines.append(
                f"{group:<24}{_number(stats['rate'], 10)}{_number(stats['n'])}"
                f"{_number(stats['false_positives'])}{_number(stats['wilson_upper'], 9)}"
            )
    by_source = report.get("by_source") or {}
    if by_source:
        lines += ["", f"{'source':<24}{'rows':>10}{'macro-F1':>10}{'crisis recall':>15}"]
        for source, sections in by_source.items():
            source_f1 = (sections.get("overall") or {}).get("macro_f1")
            source_recall = (sections.get("crisis") or {}).get("recall")
            lines.append(f"{source:<24}{_number(sections['rows'], 10)}{_number(source_f1, 10)}{_number(source_recall, 15)}")
    real = report.get("real_text")
    if real:
        sources = ", ".join(real["sources"])
        heading = (
            f"real text ({sources}; {real['rows']} rows): macro-F1 {_number(real['macro_f1'], 0)}"
            f" over the {len(real['covered'])} categories with >= {real['min_support']} rows"
        )
        lines += ["", heading]
        for category, stats in real["per_category"].items():
            lines.append(f"  {category:<22}{_number(stats['f1'], 10)}{_number(stats['support'], 9)}")
    targets = report.get("targets") or {}
    if targets:
        lines += ["", f"{'target':<24}{'value':>10}{'rule':>14}  met"]
        for name, target in targets.items():
            rule = f"{target['rule']} {target['threshold']:g}"
            lines.append(f"{name:<24}{_number(target['value'], 10)}{rule:>14}  {'yes' if target['met'] else 'NO'}")
    return "\n".join(lines)


# -- running a model over labelled data --------------------------------------------------------
LABELLED_COLUMNS = ("text", "label")


def read_labelled_file(path: Path) -> pd.DataFrame:
    """A labelled CSV, JSONL or parquet file (``text``, ``label``; ``kind``, ``source`` optional)."""
    import pandas as pd

    from careassist.ingest import IngestError, read_raw_file

    try:
        frame = read_raw_file(str(path), path.read_bytes())
    except (IngestError, OSError) as exc:
        raise EvaluationError(str(exc)) from None
    if "kind" not in frame.columns or frame["kind"].isna().all():
        frame["kind"] = frame["label"].map(lambda v: "out_of_scope" if v == "out_of_scope" else "general")
    if "source" not in frame.columns or frame["source"].isna().all():
        frame["source"] = path.stem
    return pd.DataFrame(frame)


def predict_with_assistant(assistant: Any, frame: pd.DataFrame) -> pd.DataFrame:
    """Run every message through the whole assistant and tabulate its decisions for the report."""
    import pandas as pd

    rows = []
    for text in frame["text"]:
        answer = assistant.answer(str(text))
        predicted = CRISIS if answer.crisis else "out_of_scope" if answer.out_of_scope else answer.category
        rows.append((predicted, answer.crisis, answer.out_of_scope, answer.confidence, answer.quality_fallback))
    decisions = pd.DataFrame(
        rows, columns=["predicted", "crisis_flag", "out_of_scope_flag", "confidence", "quality_fallback"], index=frame.index
    )
    return pd.concat([frame[["text", "label", "kind", "source"]], decisions], axis=1)


def evaluate_assistant(assistant: Any, frame: pd.DataFrame, out_dir: Path | None = None) -> dict[str, Any]:
    """Evaluate the assistant on a labelled frame; write the report files when ``out_dir`` is set."""
    predictions = predict_with_assistant(assistant, frame)
    report = evaluate_predictions(predictions)
    report["quality_fallbacks"] = int(predictions["quality_fallback"].sum())
    if out_dir is not None:
        write_report(report, out_dir)
        misses = predictions[(predictions["label"] == CRISIS) & ~predictions["crisis_flag"]]
        misses[["text", "kind", "source"]].to_csv(out_dir / "crisis_misses.csv", index=False)
    return report
