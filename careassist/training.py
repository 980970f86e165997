"""Training: fit every candidate classifier, pick by validation macro-F1, fit the other heads.

The frame is split by content hash (``careassist.splits``); the test split is never seen here.
Sources are weighted so that a large templated source (MedQuAD) cannot drown the others.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from careassist import classifier
from careassist.classifier import (
    CANDIDATES,
    TemperatureScaled,
    assemble,
    text_features,
    texts_frame,
)
from careassist.model import AssistantModel, Thresholds, prepare_text
from careassist.taxonomy import CATEGORIES, OUT_OF_SCOPE

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

#: A source contributes at most this much total weight to a head's training.
SOURCE_WEIGHT_CAP = 3000.0
#: The crisis head's threshold sits this far below the lowest-scored validation crisis message
#: that the rule layer missed ...
CRISIS_MARGIN = 0.8
#: ... but never so low that it flags more than this share of ordinary validation messages.
CRISIS_MAX_FALSE_POSITIVE_RATE = 0.05
#: The category head's labels: the crisis label is the crisis gate's, a separate, stricter decision.
HEAD_CATEGORIES = tuple(c for c in CATEGORIES if c != "crisis")
#: Share of correct validation answers allowed to fall under the low-confidence threshold.
LOW_CONFIDENCE_QUANTILE = 0.05


class TrainingError(ValueError):
    """The training data cannot produce a model (too few rows, a missing category...)."""


@dataclass
class TrainingResult:
    """The chosen model and what the selection saw."""

    model: AssistantModel
    chosen: str
    candidates: dict[str, dict[str, float]] = field(default_factory=dict)
    split_sizes: dict[str, int] = field(default_factory=dict)


def with_splits(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with a ``split`` column (kept if already there)."""
    from careassist.ingest import normalise_text, text_key
    from careassist.splits import assign_splits

    if "split" in frame.columns:
        return frame
    return frame.assign(split=assign_splits(text_key(normalise_text(frame["text"]))))


def source_weights(sources: pd.Series) -> np.ndarray:
    """Row weights that cap each source's total; scaled to mean 1, so they change only the balance
    between sources and never the strength of regularisation."""
    counts = sources.map(sources.value_counts())
    weights = np.minimum(1.0, SOURCE_WEIGHT_CAP / counts.to_numpy(dtype=float))
    return weights / weights.mean()


def _check(frame: pd.DataFrame) -> None:
    missing = {"text", "label"} - set(frame.columns)
    if missing:
        raise TrainingError(f"training data lacks column(s) {', '.join(sorted(missing))}")
    train = frame[frame["split"] == "train"]
    absent = [c for c in CATEGORIES if not (train["label"] == c).any()]
    if absent:
        raise TrainingError(f"no training rows for categories: {', '.join(absent)}")
    if not (train["label"] == OUT_OF_SCOPE).any():
        raise TrainingError("no out-of-scope training rows: the out-of-scope head cannot be fitted")
    if not (frame["split"] == "validation").any():
        raise TrainingError("no validation rows: thresholds and the candidate choice need them")


def _macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(y_true, y_pred, labels=list(HEAD_CATEGORIES), average="macro", zero_division=0))


def train_assistant(frame: pd.DataFrame, candidates: list[str] | None = None) -> TrainingResult:
    """Fit the candidates and the out-of-scope and crisis heads; return the chosen model."""
    frame = with_splits(frame).reset_index(drop=True)
    for column, default in (("source", "unknown"), ("kind", "general")):
        if column not in frame.columns:
            frame = frame.assign(**{column: default})
    _check(frame)
    texts = texts_frame([prepare_text(t) for t in frame["text"]])
    train = (frame["split"] == "train").to_numpy()
    valid = (frame["split"] == "validation").to_numpy()
    in_scope = frame["label"].isin(HEAD_CATEGORIES).to_numpy()
    labels = frame["label"].to_numpy()

    features: dict[str, Any] = {}
    matrices: dict[str, Any] = {}
    for kind in sorted({CANDIDATES[n].features for n in (candidates or CANDIDATES)} | {"word_char"}):
        started = time.perf_counter()
        features[kind] = text_features(kind).fit(texts.iloc[train])
        matrices[kind] = features[kind].transform(texts)
        log.info("features %s: %d in %.1fs", kind, matrices[kind].shape[1], time.perf_counter() - started)

    fit_rows = train & in_scope
    val_rows = valid & in_scope
    weights = source_weights(frame["source"][fit_rows])
    scores: dict[str, dict[str, float]] = {}
    heads: dict[str, TemperatureScaled] = {}
    for name in candidates or list(CANDIDATES):
        spec = CANDIDATES[name]
        X = matrices[spec.features]
        started = time.perf_counter()
        head = TemperatureScaled(spec.make_estimator()).fit(X[fit_rows], labels[fit_rows], sample_weight=weights)
        raw = head.decision_scores(X[val_rows])
        y_index = np.searchsorted(head.classes_, labels[val_rows])
        head.temperature = classifier.fit_temperature(raw, y_index)
        predicted = head.classes_[raw.argmax(axis=1)]
        scores[name] = {
            "validation_macro_f1": round(_macro_f1(labels[val_rows], predicted), 4),
            "fit_seconds": round(time.perf_counter() - started, 2),
            "temperature": round(head.temperature, 4),
        }
        heads[name] = head
        log.info("candidate %s: %s", name, scores[name])
    chosen = max(scores, key=lambda n: (scores[n]["validation_macro_f1"], -list(CANDIDATES).index(n)))
    category = assemble(features[CANDIDATES[chosen].features], heads[chosen])

    shared = features["word_char"]
    X = matrices["word_char"]
    all_weights = source_weights(frame["source"][train])
    is_oos, is_crisis = labels == OUT_OF_SCOPE, labels == "crisis"
    oos_head = _binary_head(X[train], is_oos[train], all_weights, X[valid], is_oos[valid])
    crisis_head = _binary_head(X[train], is_crisis[train], all_weights, X[valid], is_crisis[valid])

    oos_val = oos_head.predict_proba(X[valid])[:, 1]
    crisis_val = crisis_head.predict_proba(X[valid])[:, 1]
    category_val = heads[chosen].predict_proba(matrices[CANDIDATES[chosen].features][valid]).max(axis=1)
    not_crisis = labels[valid] != "crisis"
    oos_threshold, oos_confidence = _out_of_scope_thresholds(
        oos_val[not_crisis], category_val[not_crisis], (labels[valid] == OUT_OF_SCOPE)[not_crisis]
    )
    confidence = heads[chosen].predict_proba(matrices[CANDIDATES[chosen].features][val_rows])
    correct = heads[chosen].classes_[confidence.argmax(axis=1)] == labels[val_rows]
    crisis_threshold, crisis_facts = _crisis_threshold(
        crisis_val, labels[valid] == "crisis", frame["text"][valid].tolist(), frame["kind"][valid].to_numpy()
    )
    thresholds = Thresholds(
        out_of_scope=oos_threshold,
        out_of_scope_confidence=oos_confidence,
        low_confidence=float(np.quantile(confidence.max(axis=1)[correct], LOW_CONFIDENCE_QUANTILE)) if correct.any() else 0.0,
        crisis=crisis_threshold,
    )
    model = AssistantModel(
        category=category,
        out_of_scope=assemble(shared, oos_head),
        crisis=assemble(shared, crisis_head),
        thresholds=thresholds,
        metadata={
            "candidate": chosen,
            "candidate_description": CANDIDATES[chosen].description,
            "candidates": scores,
            "rows": {s: int((frame["split"] == s).sum()) for s in ("train", "validation", "test")},
            "crisis_threshold": crisis_facts,
        },
    )
    return TrainingResult(model, chosen, scores, model.metadata["rows"])


def _binary_head(X: Any, y: np.ndarray, weights: np.ndarray, X_valid: Any, y_valid: np.ndarray) -> TemperatureScaled:
    """A linear SVM for one yes/no question, its scores turned into probabilities on validation data."""
    from sklearn.svm import LinearSVC

    head = TemperatureScaled(LinearSVC(C=0.5, class_weight="balanced", random_state=0)).fit(X, y, sample_weight=weights)
    if y_valid.any() and not y_valid.all():
        head.temperature = classifier.fit_temperature(head.decision_scores(X_valid), y_valid.astype(int))
    return head


def _crisis_threshold(
    scores: np.ndarray, truth: np.ndarray, texts: list[str], kinds: np.ndarray
) -> tuple[float, dict[str, float]]:
    """The crisis head's threshold: catch what the rules miss, within a false-positive budget."""
    from careassist.crisis_rules import detect_rules

    caught = np.array([detect_rules(t) is not None for t in texts], dtype=bool)
    needed = scores[truth & ~caught]
    for_recall = float(needed.min() * CRISIS_MARGIN) if len(needed) else 0.5
    ordinary = scores[~truth & (kinds == "general")]
    floor = float(np.quantile(ordinary, 1 - CRISIS_MAX_FALSE_POSITIVE_RATE)) if len(ordinary) else 0.0
    threshold = max(min(for_recall, 0.5), floor)
    return threshold, {
        "threshold": round(threshold, 6),
        "for_recall": round(for_recall, 6),
        "false_positive_floor": round(floor, 6),
        "validation_crisis_missed_by_rules": len(needed),
        "validation_gate_recall": round(float((caught | (scores >= threshold))[truth].mean()), 4) if truth.any() else 1.0,
    }


def _out_of_scope_thresholds(scores: np.ndarray, confidence: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """The pair (head score, top category probability) whose OR has the best F1 on validation."""
    if not truth.any():
        return 0.5, 0.0
    best, best_f1 = (0.5, 0.0), -1.0
    score_grid = np.unique(np.quantile(scores, np.linspace(0.5, 1.0, 101)))
    for low in np.arange(0.0, 0.61, 0.02):
        unsure = confidence < low
        for threshold in score_grid:
            flagged = unsure | (scores >= threshold)
            f1 = 2 * float((flagged & truth).sum()) / (flagged.sum() + truth.sum())
            if f1 > best_f1:
                best, best_f1 = (float(threshold), float(round(low, 2))), f1
    return best
