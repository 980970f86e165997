"""Training: fit every candidate classifier, pick by validation macro-F1, fit the other heads.

The frame is split by content hash (``careassist.splits``); the test split is never seen here.
Sources are weighted so that a large templated source (MedQuAD) cannot drown the others. For the
same reason, when the training split holds more than ``MAX_TRAINING_ROWS`` rows the largest sources
are fitted on stratified samples, re-weighted to their full weight: their influence is capped
either way, and the extra rows would only cost time. Training time is therefore bounded whatever
the data's size (the 525,000-conversation set trains in well under a minute).
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
    TEXT_COLUMN,
    TemperatureScaled,
    assemble,
    text_features,
    texts_frame,
    transform_texts,
)
from careassist.model import AssistantModel, Thresholds, prepare_text
from careassist.taxonomy import CATEGORIES, OUT_OF_SCOPE

if TYPE_CHECKING:
    import pandas as pd
    from sklearn.compose import ColumnTransformer

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
#: The out-of-scope decision's thresholds maximise F-beta with this beta (below 1: precision first).
OUT_OF_SCOPE_BETA = 0.5
#: Share of correct validation answers allowed to fall under the low-confidence threshold.
LOW_CONFIDENCE_QUANTILE = 0.05
#: Training rows fitted on at most (see ``sample_training_rows``). A source's total weight is capped
#: at ``SOURCE_WEIGHT_CAP`` rows' worth anyway; on the generated set, more rows of one source add
#: fit time (superlinear for the SVMs) but no leak-free test quality: see benchmarks/bench_train.py.
MAX_TRAINING_ROWS = 35_000


class TrainingError(ValueError):
    """The training data cannot produce a model (too few rows, a missing category...)."""


@dataclass
class TrainingResult:
    """The chosen model and what the selection saw."""

    model: AssistantModel
    chosen: str
    candidates: dict[str, dict[str, float]] = field(default_factory=dict)
    split_sizes: dict[str, int] = field(default_factory=dict)
    #: Training rows per sampled source: ``{"rows": available, "used": fitted on}``.
    sampled_sources: dict[str, dict[str, int]] = field(default_factory=dict)


def with_splits(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with a ``split`` column (kept if already there)."""
    from careassist.ingest import normalise_text, text_key
    from careassist.splits import assign_splits

    if "split" in frame.columns:
        return frame
    return frame.assign(split=assign_splits(text_key(normalise_text(frame["text"]))))


def source_weights(sources: pd.Series, population: pd.Series | None = None) -> np.ndarray:
    """Row weights that cap each source's total; scaled to mean 1, so they change only the balance
    between sources and never the strength of regularisation.

    ``population`` holds the source of every row that ``sources`` was sampled from: a sampled
    source's rows are weighted up so that its total is what all of its rows would have had.
    """
    counts = sources.map(sources.value_counts()).to_numpy(dtype=float)
    full = counts if population is None else sources.map(population.value_counts()).to_numpy(dtype=float)
    weights = np.minimum(1.0, SOURCE_WEIGHT_CAP / full) * (full / counts)
    return weights / weights.mean()


def sample_training_rows(frame: pd.DataFrame, max_rows: int = MAX_TRAINING_ROWS) -> np.ndarray:
    """Which training rows to fit on: all of them if they are at most ``max_rows``; otherwise the
    largest sources are each sampled down to one common size, the largest that keeps the total
    within ``max_rows``, and smaller sources stay whole.

    A sampled source keeps each (label, kind) stratum's share, rounded up so that none vanishes;
    within a stratum the rows whose text hashes lowest are kept, so the same rows give the same
    sample whatever their order, and added rows change it only where they hash lower.
    """
    import pandas as pd

    keep = np.ones(len(frame), dtype=bool)
    sizes = frame["source"].value_counts()
    cap = _common_cap(sorted(sizes.tolist()), max_rows)
    for source in sorted(sizes[sizes > cap].index):
        rows = np.flatnonzero((frame["source"] == source).to_numpy())
        strata = frame.iloc[rows][["label", "kind"]].reset_index(drop=True)
        order = np.argsort(pd.util.hash_pandas_object(frame["text"].iloc[rows], index=False).to_numpy(), kind="stable")
        ranked = strata.iloc[order]
        grouped = ranked.groupby(["label", "kind"], sort=False, dropna=False)
        quota = np.ceil(grouped["label"].transform("size").to_numpy() * (cap / len(rows)))
        keep[rows[order]] = grouped.cumcount().to_numpy() < quota
    return keep


def _common_cap(sizes: list[int], budget: int) -> int:
    """The largest per-source size c with sum(min(size, c)) <= budget (sizes ascending); at least 1."""
    spent = 0
    for position, size in enumerate(sizes):
        share = (budget - spent) // (len(sizes) - position)
        if share < size:
            return max(1, share)
        spent += size
    return sizes[-1] if sizes else budget


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


def train_assistant(
    frame: pd.DataFrame, candidates: list[str] | None = None, *, max_training_rows: int = MAX_TRAINING_ROWS
) -> TrainingResult:
    """Fit the candidates and the out-of-scope and crisis heads; return the chosen model.

    Beyond ``max_training_rows`` training rows the largest sources are sampled
    (``sample_training_rows``); ``TrainingResult.sampled_sources`` records which and how much.
    """
    if max_training_rows < 1:
        raise TrainingError(f"max_training_rows must be at least 1, got {max_training_rows}")
    started = time.perf_counter()
    frame = with_splits(frame).reset_index(drop=True)
    for column, default in (("source", "unknown"), ("kind", "general")):
        if column not in frame.columns:
            frame = frame.assign(**{column: default})
    _check(frame)
    names = candidates or list(CANDIDATES)
    split_sizes = {s: int((frame["split"] == s).sum()) for s in ("train", "validation", "test")}
    every_train = frame[frame["split"] == "train"]
    train = every_train[sample_training_rows(every_train, max_training_rows)].reset_index(drop=True)
    valid = frame[frame["split"] == "validation"].reset_index(drop=True)
    used = train["source"].value_counts()
    sampled = {
        str(source): {"rows": int(rows), "used": int(used.get(source, 0))}
        for source, rows in every_train["source"].value_counts().sort_index().items()
        if used.get(source, 0) < rows
    }
    log.info("splits in %.1fs; training rows %d of %d", time.perf_counter() - started, len(train), len(every_train))

    train_texts = texts_frame([prepare_text(t) for t in train["text"]])
    valid_texts = texts_frame([prepare_text(t) for t in valid["text"]])
    shared, train_matrices, valid_matrices = _fit_features(
        train_texts, valid_texts, {CANDIDATES[n].features for n in names}
    )
    y_train, y_valid = train["label"].to_numpy(), valid["label"].to_numpy()
    in_scope = np.isin(y_train, HEAD_CATEGORIES)
    val_rows = np.isin(y_valid, HEAD_CATEGORIES)
    # Every in-scope training row's source, sampled or not: what the category head's weights stand for.
    in_scope_sources = every_train["source"][every_train["label"].isin(HEAD_CATEGORIES)]
    weights = source_weights(train["source"][in_scope], population=in_scope_sources)
    scores: dict[str, dict[str, float]] = {}
    heads: dict[str, TemperatureScaled] = {}
    for name in names:
        spec = CANDIDATES[name]
        X, X_valid = train_matrices[spec.features], valid_matrices[spec.features][val_rows]
        started = time.perf_counter()
        head = TemperatureScaled(spec.make_estimator()).fit(X[in_scope], y_train[in_scope], sample_weight=weights)
        raw = head.decision_scores(X_valid)
        y_index = np.searchsorted(head.classes_, y_valid[val_rows])
        head.temperature = classifier.fit_temperature(raw, y_index)
        predicted = head.classes_[raw.argmax(axis=1)]
        scores[name] = {
            "validation_macro_f1": round(_macro_f1(y_valid[val_rows], predicted), 4),
            "fit_seconds": round(time.perf_counter() - started, 2),
            "temperature": round(head.temperature, 4),
        }
        heads[name] = head
        log.info("candidate %s: %s", name, scores[name])
    chosen = max(scores, key=lambda n: (scores[n]["validation_macro_f1"], -list(CANDIDATES).index(n)))
    chosen_kind = CANDIDATES[chosen].features
    # The word step is the word block of the shared one: fitting it again gives the same vocabulary.
    step = shared if chosen_kind == "word_char" else text_features(chosen_kind).fit(train_texts)

    started = time.perf_counter()
    X, X_valid = train_matrices["word_char"], valid_matrices["word_char"]
    all_weights = source_weights(train["source"], population=every_train["source"])
    is_oos, is_crisis = y_valid == OUT_OF_SCOPE, y_valid == "crisis"
    oos_head = _binary_head(X, y_train == OUT_OF_SCOPE, all_weights, X_valid, is_oos)
    crisis_head = _binary_head(X, y_train == "crisis", all_weights, X_valid, is_crisis)
    log.info("out-of-scope and crisis heads in %.1fs", time.perf_counter() - started)

    started = time.perf_counter()
    oos_val = oos_head.predict_proba(X_valid)[:, 1]
    crisis_val = crisis_head.predict_proba(X_valid)[:, 1]
    category_proba = heads[chosen].predict_proba(valid_matrices[chosen_kind])
    not_crisis = ~is_crisis
    oos_threshold, oos_confidence = _out_of_scope_thresholds(
        oos_val[not_crisis], category_proba.max(axis=1)[not_crisis], is_oos[not_crisis]
    )
    confidence = category_proba[val_rows]
    correct = heads[chosen].classes_[confidence.argmax(axis=1)] == y_valid[val_rows]
    crisis_threshold, crisis_facts = _crisis_threshold(
        crisis_val, is_crisis, valid["text"].tolist(), valid["kind"].to_numpy()
    )
    thresholds = Thresholds(
        out_of_scope=oos_threshold,
        out_of_scope_confidence=oos_confidence,
        low_confidence=float(np.quantile(confidence.max(axis=1)[correct], LOW_CONFIDENCE_QUANTILE))
        if correct.any()
        else 0.0,
        crisis=crisis_threshold,
    )
    log.info("thresholds in %.1fs", time.perf_counter() - started)
    final_head = _refit_on_validation(
        heads[chosen], CANDIDATES[chosen], train_matrices[chosen_kind][in_scope], valid_matrices[chosen_kind][val_rows],
        train[in_scope], valid[val_rows], in_scope_sources,
    )
    scores[chosen]["refit_rows"] = int(in_scope.sum() + val_rows.sum())
    model = AssistantModel(
        category=assemble(step, final_head),
        out_of_scope=assemble(shared, oos_head),
        crisis=assemble(shared, crisis_head),
        thresholds=thresholds,
        metadata={
            "candidate": chosen,
            "candidate_description": CANDIDATES[chosen].description,
            "candidates": scores,
            "rows": split_sizes,
            "sampled_sources": sampled,
            "crisis_threshold": crisis_facts,
        },
    )
    return TrainingResult(model, chosen, scores, split_sizes, sampled)


def _refit_on_validation(
    chosen: TemperatureScaled, spec: classifier.Candidate, X_train: Any, X_valid: Any,
    train: pd.DataFrame, valid: pd.DataFrame, in_scope_sources: pd.Series,
) -> TemperatureScaled:
    """The chosen design fitted again on the training and validation rows together.

    Validation has done its work by now: it chose the candidate and set the temperature and every
    threshold. Its rows are then worth more as training data (about a fifth more rows; on the seed
    corpus, adding half of them raised macro-F1 on the other half by 0.003 on average over three
    draws). The fitted temperature is kept: the design, and so the scale of its scores, is the same.
    """
    import pandas as pd
    import scipy.sparse as sp

    rows = pd.concat([train, valid], ignore_index=True)
    weights = source_weights(rows["source"], population=pd.concat([in_scope_sources, valid["source"]]))
    head = TemperatureScaled(spec.make_estimator(), temperature=chosen.temperature)
    return head.fit(sp.vstack([X_train, X_valid], format="csr"), rows["label"].to_numpy(), sample_weight=weights)


def _fit_features(
    train_texts: pd.DataFrame, valid_texts: pd.DataFrame, kinds: set[str]
) -> tuple[ColumnTransformer, dict[str, Any], dict[str, Any]]:
    """The ``word_char`` step fitted on the training texts, and the training and validation
    matrices of every feature kind in ``kinds``.

    The vectorizers are fitted once: the ``word`` features are the word block of ``word_char`` (the
    same vectorizer on the same texts), so their matrices are column slices.
    """
    started = time.perf_counter()
    word_char = text_features("word_char")
    train_matrices = {"word_char": word_char.fit_transform(train_texts).tocsr()}
    valid_matrices = {"word_char": transform_texts(word_char, valid_texts[TEXT_COLUMN].tolist())}
    if "word" in kinds:
        words = word_char.output_indices_["word"]
        train_matrices["word"] = train_matrices["word_char"][:, words]
        valid_matrices["word"] = valid_matrices["word_char"][:, words]
    log.info(
        "features: %d for %d + %d rows in %.1fs",
        train_matrices["word_char"].shape[1],
        len(train_texts),
        len(valid_texts),
        time.perf_counter() - started,
    )
    return word_char, train_matrices, valid_matrices


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

    # Only crisis messages need the (slow) rules: what the head must catch is what they miss.
    caught = np.zeros(len(texts), dtype=bool)
    caught[truth] = [detect_rules(texts[i]) is not None for i in np.flatnonzero(truth)]
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
        "validation_gate_recall": round(float((caught | (scores >= threshold))[truth].mean()), 4)
        if truth.any()
        else 1.0,
    }


def _out_of_scope_thresholds(scores: np.ndarray, confidence: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """The pair (head score, top category probability) whose OR has the best F-beta on validation,
    beta = ``OUT_OF_SCOPE_BETA``: precision weighs more than recall, because a health question
    wrongly turned away is worse than an off-topic one answered with general health guidance."""
    if not truth.any():
        return 0.5, 0.0
    best, best_score = (0.5, 0.0), -1.0
    beta2 = OUT_OF_SCOPE_BETA**2
    score_grid = np.unique(np.quantile(scores, np.linspace(0.5, 1.0, 101)))
    for low in np.arange(0.0, 0.61, 0.02):
        unsure = confidence < low
        for threshold in score_grid:
            flagged = unsure | (scores >= threshold)
            hits = float((flagged & truth).sum())
            score = (1 + beta2) * hits / (flagged.sum() + beta2 * truth.sum())
            if score > best_score:
                best, best_score = (float(threshold), float(round(low, 2))), score
    return best
