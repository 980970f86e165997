"""The assistant's trained model: a category head, an out-of-scope head and a crisis head.

``predict`` takes the DataFrame that MLflow's pyfunc passes (a ``text`` column) and uses the
scikit-learn pipelines; ``predict_one`` is the serving path, compiled once from the same fitted
pipelines and equal to ``predict`` up to float rounding (a test holds them together).
"""

from __future__ import annotations

import re
import threading
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from careassist.classifier import TEXT_COLUMN, FeatureScorer, LinearScorer, StackedHeads, texts_frame
from careassist.taxonomy import OUT_OF_SCOPE
from careassist.text import strip_markup

if TYPE_CHECKING:
    import pandas as pd
    from sklearn.pipeline import Pipeline

_NUMBER = re.compile(r"\d+")


#: The model reads at most this much of a message (the API's limit); crisis rules read it all.
MAX_MODEL_CHARS = 4000

PREDICTION_COLUMNS = (
    "label",
    "crisis",
    "category",
    "confidence",
    "out_of_scope",
    "out_of_scope_score",
    "low_confidence",
    "crisis_score",
    "crisis_flag",
)


@dataclass(frozen=True)
class Thresholds:
    """Decision thresholds tuned on validation data."""

    out_of_scope: float = 0.5
    #: Below this top category probability a message is out of scope whatever the head says.
    out_of_scope_confidence: float = 0.0
    low_confidence: float = 0.3
    crisis: float = 0.5


@dataclass(frozen=True)
class ModelPrediction:
    """What the model says about one message."""

    category: str
    confidence: float
    out_of_scope: bool
    out_of_scope_score: float
    low_confidence: bool
    crisis_score: float
    crisis_flag: bool


#: The heads of an assistant model, in the order they are stored and compiled.
HEADS = ("category", "out_of_scope", "crisis")
#: Version of ``AssistantModel.__getstate__``'s layout.
STATE_FORMAT = 2
#: Vocabulary terms never hold a newline (tokens are \w runs; ``prepare_text`` makes every whitespace run one space).
_TERM_SEPARATOR = "\n"


def _pack_features(features: Any) -> tuple[Any, list[np.ndarray]]:
    """A copy of a fitted ``text_features`` step without its vocabulary dicts, and the vocabularies
    as UTF-8 byte arrays (terms in feature-index order, newline-separated)."""
    import copy

    memo: dict[int, Any] = {}
    vocabularies: list[np.ndarray] = []
    for _, vectorizer, _ in features.transformers_:
        vocabulary = getattr(vectorizer, "vocabulary_", None)
        if not isinstance(vocabulary, dict):
            vocabularies.append(np.zeros(0, dtype=np.uint8))
            continue
        terms = sorted(vocabulary, key=vocabulary.__getitem__)
        if any(_TERM_SEPARATOR in term for term in terms) or [vocabulary[t] for t in terms] != list(range(len(terms))):
            raise ValueError("a vocabulary with newlines in terms or gaps in indices cannot be packed")
        vocabularies.append(np.frombuffer(_TERM_SEPARATOR.join(terms).encode("utf-8"), dtype=np.uint8))
        memo[id(vocabulary)] = None
        # Only kept for introspection (scikit-learn's docs say to drop it before saving).
        if getattr(vectorizer, "stop_words_", None) is not None:
            memo[id(vectorizer.stop_words_)] = None
    return copy.deepcopy(features, memo), vocabularies


def _unpack_features(features: Any, vocabularies: list[np.ndarray]) -> Any:
    for (_, vectorizer, _), blob in zip(features.transformers_, vocabularies, strict=True):
        if getattr(vectorizer, "vocabulary_", 0) is None:
            terms = blob.tobytes().decode("utf-8").split(_TERM_SEPARATOR) if blob.size else []
            vectorizer.vocabulary_ = {term: index for index, term in enumerate(terms)}
    return features


@dataclass
class _Compiled:
    scorers: list[FeatureScorer]
    heads: dict[str, tuple[int, LinearScorer]]
    #: Per scorer, its heads stacked (one gather of weight rows scores them all).
    stacked: list[StackedHeads] = field(default_factory=list)


@dataclass
class AssistantModel:
    """The three fitted heads, their thresholds and what produced them."""

    category: Pipeline
    out_of_scope: Pipeline
    crisis: Pipeline
    thresholds: Thresholds = field(default_factory=Thresholds)
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._compiled: _Compiled | None = None
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        """A compact state: each distinct feature step once, its vocabularies as UTF-8 blobs.

        The three heads share one fitted feature step; stored naively (skops writes every
        vocabulary entry as a JSON node) the file is hundreds of megabytes and takes seconds to
        write and read. The live objects are never modified.
        """
        steps: list[Any] = []
        heads: dict[str, tuple[int, Any]] = {}
        for name in HEADS:
            pipeline = getattr(self, name)
            features = pipeline.named_steps["features"]
            index = next((i for i, seen in enumerate(steps) if seen is features), len(steps))
            if index == len(steps):
                steps.append(features)
            heads[name] = (index, pipeline.named_steps["classifier"])
        packed = [_pack_features(features) for features in steps]
        return {
            "format": STATE_FORMAT,
            "features": [features for features, _ in packed],
            "vocabularies": [vocabularies for _, vocabularies in packed],
            "heads": heads,
            "thresholds": self.thresholds,
            "metadata": self.metadata,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        if "format" not in state and all(name in state for name in HEADS):  # files written before format 2
            self.__dict__.update(state)
            self.__post_init__()
            return
        if state.get("format") != STATE_FORMAT:
            raise ValueError(f"unknown assistant model state format {state.get('format')!r}; expected {STATE_FORMAT}")
        from careassist.classifier import assemble

        steps = [_unpack_features(f, v) for f, v in zip(state["features"], state["vocabularies"], strict=True)]
        for name in HEADS:
            index, head = state["heads"][name]
            setattr(self, name, assemble(steps[index], head))
        self.thresholds = state["thresholds"]
        self.metadata = state["metadata"]
        self.__post_init__()

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(str(c) for c in self.category.classes_)

    @property
    def feature_count(self) -> int:
        return sum(scorer.size for scorer in self.compiled().scorers)

    # -- batch (pyfunc) ------------------------------------------------------------------------
    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Predictions for a DataFrame with a ``text`` column (one row per message).

        ``label`` is the final decision: ``crisis`` when the rule layer or the crisis head flags,
        else ``out_of_scope`` or the category.
        """
        import pandas as pd

        if TEXT_COLUMN not in frame.columns:
            raise ValueError(f"input needs a {TEXT_COLUMN!r} column; got {list(frame.columns)}")
        texts = texts_frame([prepare_text(t) for t in frame[TEXT_COLUMN]])
        category_proba = self.category.predict_proba(texts)
        oos_score = _positive(self.out_of_scope, texts)
        crisis_score = _positive(self.crisis, texts)
        classes = np.asarray(self.classes)
        top = category_proba.argmax(axis=1)
        confidence = category_proba[np.arange(len(top)), top]
        t = self.thresholds
        from careassist.crisis_rules import detect_rules

        rules = np.array([detect_rules(str(v)) is not None for v in frame[TEXT_COLUMN]], dtype=bool)
        crisis = rules | (crisis_score >= t.crisis)
        out_of_scope = (oos_score >= t.out_of_scope) | (confidence < t.out_of_scope_confidence)
        label = np.where(crisis, "crisis", np.where(out_of_scope, OUT_OF_SCOPE, classes[top]))
        return pd.DataFrame(
            {
                "label": label,
                "crisis": crisis,
                "category": classes[top],
                "confidence": confidence,
                "out_of_scope": out_of_scope,
                "out_of_scope_score": oos_score,
                "low_confidence": confidence < t.low_confidence,
                "crisis_score": crisis_score,
                "crisis_flag": crisis_score >= t.crisis,
            },
            index=frame.index,
        )

    # -- one message (serving) -----------------------------------------------------------------
    def compiled(self) -> _Compiled:
        if self._compiled is None:
            with self._lock:
                if self._compiled is None:
                    self._compiled = self._compile()
        return self._compiled

    def _compile(self) -> _Compiled:
        scorers: list[FeatureScorer] = []
        seen: dict[int, int] = {}
        heads: dict[str, tuple[int, LinearScorer]] = {}
        for name in HEADS:
            pipeline = getattr(self, name)
            features = pipeline.named_steps["features"]
            if id(features) not in seen:
                seen[id(features)] = len(scorers)
                scorers.append(FeatureScorer(features))
            heads[name] = (seen[id(features)], LinearScorer(pipeline.named_steps["classifier"]))
        stacked = [
            StackedHeads({name: head for name, (which, head) in heads.items() if which == position})
            for position in range(len(scorers))
        ]
        return _Compiled(scorers, heads, stacked)

    def predict_one(self, text: str) -> ModelPrediction:
        """The prediction for one message, computed from compiled arrays."""
        compiled = self.compiled()
        text = prepare_text(text)
        scores: dict[str, np.ndarray] = {}
        for scorer, heads in zip(compiled.scorers, compiled.stacked, strict=True):
            scores |= heads.proba(*scorer.transform_one(text))
        proba = scores["category"]
        top = int(proba.argmax())
        category_head = compiled.heads["category"][1]
        oos = float(scores["out_of_scope"][1])
        crisis = float(scores["crisis"][1])
        t = self.thresholds
        confidence = float(proba[top])
        return ModelPrediction(
            category=category_head.classes[top],
            confidence=confidence,
            out_of_scope=oos >= t.out_of_scope or confidence < t.out_of_scope_confidence,
            out_of_scope_score=oos,
            low_confidence=confidence < t.low_confidence,
            crisis_score=crisis,
            crisis_flag=crisis >= t.crisis,
        )

    def describe(self) -> dict[str, Any]:
        return {"classes": list(self.classes), "thresholds": asdict(self.thresholds), **self.metadata}


def prepare_text(text: object) -> str:
    """What the model reads: a string without markup, whitespace collapsed, at most
    ``MAX_MODEL_CHARS``, and every number written as 0, so that ages, doses and dates never decide
    a category."""
    value = text if isinstance(text, str) else "" if text is None else str(text)
    return _NUMBER.sub("0", strip_markup(value[: MAX_MODEL_CHARS * 2])[:MAX_MODEL_CHARS])


def _positive(pipeline: Pipeline, texts: pd.DataFrame) -> np.ndarray:
    """P(yes) of a yes/no head: its classes are [False, True], as the fast path also assumes."""
    return pipeline.predict_proba(texts)[:, 1]
