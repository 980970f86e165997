"""Text classifiers of the assistant: candidate scikit-learn pipelines and a fast scorer.

Every candidate is a ``Pipeline`` whose first step is a ``ColumnTransformer`` over a ``text``
column, so it accepts the DataFrame that MLflow's pyfunc passes. For serving, ``LinearScorer``
compiles a fitted pipeline into plain arrays: one message is scored by a gather over its few
non-zero features, instead of ``predict_proba``'s copy of the whole weight matrix per call.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

if TYPE_CHECKING:
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

TEXT_COLUMN = "text"


# -- building blocks -------------------------------------------------------------------------
_TFIDF_OPTIONS: dict[str, Any] = {
    "lowercase": True,
    "strip_accents": "unicode",
    "sublinear_tf": True,
    "dtype": np.float32,
}


def word_vectorizer(**overrides: Any) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(**(_TFIDF_OPTIONS | {"ngram_range": (1, 2), "min_df": 1} | overrides))


def char_vectorizer(**overrides: Any) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer

    # N-grams across word boundaries: on the validation split of the 26,418-message seed corpus, word +
    # char 3-6 (SVM, C=2) scored macro-F1 0.9425 against 0.9353 for word + char_wb 3-5 (C=0.5; 0.9359
    # at C=1).
    options = {"analyzer": "char", "ngram_range": (3, 6), "min_df": 3}
    return TfidfVectorizer(**(_TFIDF_OPTIONS | options | overrides))


def text_features(kind: str) -> ColumnTransformer:
    """TF-IDF features of the ``text`` column: ``word`` or ``word_char`` n-grams."""
    from sklearn.compose import ColumnTransformer

    parts = [("word", word_vectorizer(), TEXT_COLUMN)]
    if kind == "word_char":
        parts.append(("char", char_vectorizer(), TEXT_COLUMN))
    elif kind != "word":
        raise ValueError(f"unknown feature kind {kind!r}; use 'word' or 'word_char'")
    return ColumnTransformer(parts, sparse_threshold=1.0)


class TemperatureScaled(ClassifierMixin, BaseEstimator):
    """A fitted linear classifier whose probabilities are softmax(scores / temperature).

    Temperature is fitted on validation data (``fit_temperature``) so that the top probability
    can drive the out-of-scope and low-confidence decisions.
    """

    def __init__(self, estimator: Any, temperature: float = 1.0) -> None:
        self.estimator = estimator
        self.temperature = temperature

    @property
    def classes_(self) -> np.ndarray:
        return np.asarray(self.estimator.classes_)

    def fit(self, X: Any, y: Any, **kwargs: Any) -> TemperatureScaled:
        self.estimator.fit(X, y, **kwargs)
        return self

    def decision_scores(self, X: Any) -> np.ndarray:
        weights, bias = linear_parameters(self.estimator)
        scores = np.asarray(X @ weights) + bias
        return scores if scores.shape[1] > 1 else np.hstack([np.zeros_like(scores), scores])

    def predict_proba(self, X: Any) -> np.ndarray:
        return softmax(self.decision_scores(X) / self.temperature)

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self.estimator, "classes_")


def softmax(scores: np.ndarray) -> np.ndarray:
    shifted = scores - scores.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def linear_parameters(estimator: Any) -> tuple[np.ndarray, np.ndarray]:
    """(weights of shape features x classes, bias per class) of a fitted linear classifier."""
    from sklearn.naive_bayes import ComplementNB, MultinomialNB

    if isinstance(estimator, MultinomialNB):
        return estimator.feature_log_prob_.T, estimator.class_log_prior_
    if isinstance(estimator, ComplementNB):
        bias = estimator.class_log_prior_ if len(estimator.classes_) == 1 else np.zeros(len(estimator.classes_))
        return estimator.feature_log_prob_.T, bias
    if hasattr(estimator, "coef_"):
        return estimator.coef_.T, np.atleast_1d(estimator.intercept_)
    raise TypeError(f"{type(estimator).__name__} is not a linear classifier this module can compile")


def fit_temperature(scores: np.ndarray, y_index: np.ndarray) -> float:
    """The temperature that minimises the negative log-likelihood of validation labels."""
    candidates = np.exp(np.linspace(math.log(0.05), math.log(20.0), 121))
    rows = np.arange(len(y_index))
    # softmax(scores / t) at the true class only, with the same float operations: dividing by
    # t > 0 keeps each row's maximum, so it is found once instead of once per candidate.
    top = scores.max(axis=-1, keepdims=True)

    def nll(t: float) -> float:
        exp = np.exp(scores / t - top / t)
        probs = exp[rows, y_index] / exp.sum(axis=-1)
        return float(-np.log(np.clip(probs, 1e-12, None)).mean())

    return float(min(candidates, key=nll))


# -- candidates ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Candidate:
    """A named classifier design: which features and which estimator."""

    name: str
    features: str
    make_estimator: Callable[[], BaseEstimator]
    description: str


def _mnb() -> Any:
    from sklearn.naive_bayes import MultinomialNB

    return MultinomialNB(alpha=0.1)


def _cnb() -> Any:
    from sklearn.naive_bayes import ComplementNB

    return ComplementNB(alpha=0.3)


def _svm() -> Any:
    from sklearn.svm import LinearSVC

    return LinearSVC(C=2.0, class_weight="balanced", random_state=0)


CANDIDATES: dict[str, Candidate] = {
    c.name: c
    for c in (
        Candidate("tfidf_mnb", "word", _mnb, "baseline: word 1-2gram TF-IDF + MultinomialNB"),
        Candidate("word_char_cnb", "word_char", _cnb, "word 1-2gram + char 3-6gram TF-IDF + ComplementNB"),
        Candidate(
            "word_char_svm",
            "word_char",
            _svm,
            "word 1-2gram + char 3-6gram TF-IDF + linear SVM, temperature-calibrated",
        ),
    )
}


def assemble(features: ColumnTransformer, head: TemperatureScaled) -> Pipeline:
    """A pyfunc-ready pipeline from an already fitted feature step and head."""
    from sklearn.pipeline import Pipeline

    return Pipeline([("features", features), ("classifier", head)])


# -- batch features for training -----------------------------------------------------------
#: The default token pattern of scikit-learn: tokens never hold a space, so "a b" is one bigram.
_DEFAULT_TOKEN_PATTERN = r"(?u)\b\w\w+\b"


def transform_texts(features: ColumnTransformer, texts: Sequence[str]) -> Any:
    """``features.transform(texts_frame(texts))`` as a CSR matrix, equal to it, several times faster.

    Training transforms tens of thousands of messages; scikit-learn analyses every message in
    Python. Here a char_wb vectorizer analyses each distinct word once (its n-grams never cross a
    word) and a word vectorizer counts unigrams and bigrams with array operations. A vectorizer
    with options this does not cover is left to its own ``transform``.
    """
    import scipy.sparse as sp

    parts = []
    for _, vectorizer, column in features.transformers_:
        if vectorizer == "drop":
            continue
        if column != TEXT_COLUMN:
            raise TypeError(f"the feature step reads column {column!r}, expected {TEXT_COLUMN!r}")
        counts = _fast_counts(vectorizer, texts)
        parts.append(sp.csr_matrix(vectorizer.transform(texts)) if counts is None else _tfidf(vectorizer, counts))
    return parts[0] if len(parts) == 1 else sp.hstack(parts, format="csr")


def _fast_counts(vectorizer: Any, texts: Sequence[str]) -> Any | None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    if type(vectorizer) is not TfidfVectorizer or vectorizer.input != "content":
        return None
    if vectorizer.analyzer == "char_wb":
        return _char_wb_counts(vectorizer, texts)
    plain_words = (
        vectorizer.analyzer == "word"
        and vectorizer.stop_words is None
        and vectorizer.tokenizer is None
        and vectorizer.token_pattern == _DEFAULT_TOKEN_PATTERN
    )
    return _word_counts(vectorizer, texts) if plain_words and vectorizer.ngram_range[1] <= 2 else None


def _units(texts: Sequence[str], split: Callable[[str], list[str]]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Each text's units (words or tokens) as ids into a list of distinct units."""
    from collections import defaultdict

    index: defaultdict[str, int] = defaultdict()
    index.default_factory = index.__len__
    lookup = index.__getitem__
    ids: list[int] = []
    lengths = np.empty(len(texts), dtype=np.int64)
    for row, text in enumerate(texts):
        units = split(text)
        ids.extend(map(lookup, units))
        lengths[row] = len(units)
    return np.asarray(ids, dtype=np.int64), lengths, list(index)


def _char_wb_ngrams(word: str, min_n: int, max_n: int) -> list[str]:
    """The char_wb n-grams of one word, as scikit-learn's analyzer makes them."""
    padded = f" {word} "
    grams: list[str] = []
    for n in range(min_n, max_n + 1):
        grams.extend(padded[i : i + n] for i in range(max(1, len(padded) - n + 1)))
        if len(padded) <= n:  # a short word counts once, not once per n
            break
    return grams


def _char_wb_counts(vectorizer: Any, texts: Sequence[str]) -> Any:
    import scipy.sparse as sp

    preprocess = vectorizer.build_preprocessor()
    ids, lengths, words = _units(texts, lambda text: preprocess(vectorizer.decode(text)).split())
    vocabulary: dict[str, int] = vectorizer.vocabulary_
    min_n, max_n = vectorizer.ngram_range
    rows: list[int] = []
    columns: list[int] = []
    for row, word in enumerate(words):
        hits = [vocabulary[g] for g in _char_wb_ngrams(word, min_n, max_n) if g in vocabulary]
        columns.extend(hits)
        rows.extend([row] * len(hits))
    per_word = sp.csr_matrix(
        (np.ones(len(columns), dtype=vectorizer.dtype), (rows, columns)), shape=(len(words), len(vocabulary))
    )
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    per_text = sp.csr_matrix((np.ones(len(ids), dtype=vectorizer.dtype), ids, indptr), shape=(len(texts), len(words)))
    return per_text @ per_word


def _word_counts(vectorizer: Any, texts: Sequence[str]) -> Any:
    import scipy.sparse as sp

    preprocess, tokenize = vectorizer.build_preprocessor(), vectorizer.build_tokenizer()
    ids, lengths, tokens = _units(texts, lambda text: tokenize(preprocess(vectorizer.decode(text))))
    vocabulary: dict[str, int] = vectorizer.vocabulary_
    min_n, max_n = vectorizer.ngram_range
    text_of = np.repeat(np.arange(len(texts)), lengths)
    rows, columns = [], []
    if min_n == 1:
        unigram = np.array([vocabulary.get(t, -1) for t in tokens], dtype=np.int64)[ids]
        rows.append(text_of[unigram >= 0])
        columns.append(unigram[unigram >= 0])
    if max_n == 2 and len(ids) > 1:
        # A bigram is a pair of token ids, encoded as one integer key.
        position = {t: i for i, t in enumerate(tokens)}
        size = len(tokens)
        known = [(term.split(" "), column) for term, column in vocabulary.items() if " " in term]
        pairs = [
            (position[a] * size + position[b], column) for (a, b), column in known if a in position and b in position
        ]
        keys = np.array([k for k, _ in pairs], dtype=np.int64)
        key_columns = np.array([c for _, c in pairs], dtype=np.int64)
        order = np.argsort(keys)
        keys, key_columns = keys[order], key_columns[order]
        same_text = text_of[1:] == text_of[:-1]
        found = ids[:-1][same_text] * size + ids[1:][same_text]
        slot = np.minimum(np.searchsorted(keys, found), max(len(keys) - 1, 0))
        hit = keys[slot] == found if len(keys) else np.zeros(len(found), dtype=bool)
        rows.append(text_of[:-1][same_text][hit])
        columns.append(key_columns[slot[hit]])
    row = np.concatenate(rows) if rows else np.empty(0, dtype=np.int64)
    column = np.concatenate(columns) if columns else np.empty(0, dtype=np.int64)
    return sp.csr_matrix(
        (np.ones(len(row), dtype=vectorizer.dtype), (row, column)), shape=(len(texts), len(vocabulary))
    )


def _tfidf(vectorizer: Any, counts: Any) -> Any:
    """The vectorizer's weighting of a count matrix, in the same order of float operations as its
    own ``transform`` (``binary``, then TfidfTransformer.transform)."""
    from sklearn.preprocessing import normalize

    counts = counts.tocsr()
    counts.sum_duplicates()
    counts.sort_indices()
    if vectorizer.binary:
        counts.data.fill(1)
    if vectorizer.sublinear_tf:
        np.log(counts.data, counts.data)
        counts.data += 1.0
    if vectorizer.use_idf:
        counts.data *= vectorizer.idf_[counts.indices]
    return normalize(counts, norm=vectorizer.norm, copy=False) if vectorizer.norm is not None else counts


# -- the fast path ---------------------------------------------------------------------------
class _CompiledVectorizer:
    """One fitted TfidfVectorizer reduced to what scoring one message needs.

    A ``char_wb`` analyzer never lets an n-gram cross a word boundary, so a message's counts are
    the sum of its words' counts: each distinct word is analysed once and its vocabulary indices
    remembered (at most ``WORD_MEMO_SIZE`` words, then the memo starts again). A ``char``
    analyzer's n-grams do cross words (the product's features: "t get u" is a clue "get up" alone
    is not); they are found by hash (``_HashTable``). Other analyzers run whole. Either way the
    counts are exactly the vectorizer's own.
    """

    WORD_MEMO_SIZE = 200_000
    terms: _HashTable  # char analyzers: vocabulary index by term hash

    def __init__(self, vectorizer: Any, offset: int) -> None:
        self.analyze = vectorizer.build_analyzer()
        self.vocabulary: dict[str, int] = vectorizer.vocabulary_
        self.idf = vectorizer.idf_.astype(np.float64) if vectorizer.use_idf else None
        self.sublinear = vectorizer.sublinear_tf
        self.norm = vectorizer.norm
        self.offset = offset
        self.size = len(self.vocabulary)
        self.by_word = vectorizer.analyzer == "char_wb"
        self.by_slices = vectorizer.analyzer == "char"
        if self.by_word or self.by_slices:
            self.preprocess = vectorizer.build_preprocessor()
            self.decode = vectorizer.decode
        if self.by_word:
            self.word_ngrams = vectorizer._char_wb_ngrams  # the analyzer's own n-grams, applied to one word
        if self.by_slices:
            self.white_spaces = vectorizer._white_spaces  # the analyzer's own whitespace rule
            self.ngram_range = vectorizer.ngram_range
            # Two terms with one hash would be counted as one: then the analyzer itself is used.
            table = _HashTable.build(*_term_hashes(self.vocabulary))
            self.by_slices = table is not None
            if table is not None:
                self.terms = table
        self.words: dict[str, np.ndarray] = {}

    def _word(self, word: str) -> np.ndarray:
        vocabulary = self.vocabulary
        found = [vocabulary[g] for g in self.word_ngrams(word) if g in vocabulary]
        indices = np.array(found, dtype=np.intp)
        if len(self.words) >= self.WORD_MEMO_SIZE:
            self.words = {}
        self.words[word] = indices
        return indices

    def _by_word(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Distinct vocabulary indices of ``text``'s char n-grams (sorted) and their counts: the
        words' remembered index arrays joined, then counted in one numpy call."""
        words = self.words
        pieces = []
        for word in self.preprocess(self.decode(text)).split():
            indices = words.get(word)
            pieces.append(self._word(word) if indices is None else indices)
        if not pieces:
            return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp)
        return np.unique(np.concatenate(pieces), return_counts=True)

    def _by_slices(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Distinct vocabulary indices of ``text``'s char n-grams (sorted) and their counts.

        The analyzer's own n-grams (``_char_ngrams``: whitespace runs made one space, then every
        slice of each length), but found by their 64-bit hashes, computed for all slices at once
        with numpy and looked up in ``_HashTable``: a dict lookup per n-gram costs several times
        more on a message of a hundred characters.
        """
        document = self.white_spaces.sub(" ", self.preprocess(self.decode(text)))
        min_n, max_n = self.ngram_range
        return np.unique(self.terms.find(_slice_hashes(_code_points(document), min_n, max_n)), return_counts=True)

    def _terms(self, text: str) -> dict[int, int]:
        counts: dict[int, int] = {}
        get = counts.get
        vocabulary = self.vocabulary
        for term in self.analyze(text):
            found = vocabulary.get(term)
            if found is not None:
                counts[found] = get(found, 0) + 1
        return counts

    def _counted(self, text: str) -> tuple[np.ndarray, np.ndarray] | None:
        """Distinct indices and counts from the char fast paths, or None for the analyzer's path."""
        if self.by_word:
            return self._by_word(text)
        return self._by_slices(text) if self.by_slices else None

    def counts(self, text: str) -> dict[int, int]:
        """Vocabulary index -> count of ``text``'s terms."""
        counted = self._counted(text)
        if counted is None:
            return self._terms(text)
        return dict(zip(counted[0].tolist(), counted[1].tolist(), strict=True))

    def features(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        fast = self._counted(text)
        if fast is not None:
            index, counted = fast
            if not len(index):
                return index, np.empty(0)
            values = counted.astype(np.float64)
        else:
            counts = self._terms(text)
            if not counts:
                return np.empty(0, dtype=np.intp), np.empty(0)
            index = np.fromiter(counts.keys(), dtype=np.intp, count=len(counts))
            values = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
        if self.sublinear:
            values = 1.0 + np.log(values)
        if self.idf is not None:
            values *= self.idf[index]
        if self.norm == "l2":
            values /= math.sqrt(float(values @ values))
        elif self.norm == "l1":
            values /= float(np.abs(values).sum())
        return index + self.offset, values


#: Multiplier of the polynomial hash of n-grams, and a salt per length so that lengths differ.
_HASH_BASE = np.uint64(0x100000001B3)
_HASH_SALT = [np.uint64((n * 0x9E3779B97F4A7C15) & (2**64 - 1)) for n in range(64)]


def _code_points(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.uint64)


def _slice_hashes(codes: np.ndarray, min_n: int, max_n: int) -> np.ndarray:
    """The hash of every slice of ``codes`` of each length from ``min_n`` to ``max_n``, built
    length by length: h_n[i] = h_(n-1)[i] * base + codes[i + n - 1] (mod 2**64), then salted."""
    pieces = []
    hashes = np.zeros(len(codes) + 1, dtype=np.uint64)
    for n in range(1, min(max_n, len(codes)) + 1):
        hashes = hashes[: len(codes) - n + 1] * _HASH_BASE + codes[n - 1 :]
        if n >= min_n:
            pieces.append(hashes ^ _HASH_SALT[n])
    return np.concatenate(pieces) if pieces else np.empty(0, dtype=np.uint64)


def _term_hashes(vocabulary: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """Each term's ``_slice_hashes`` value and its vocabulary index (none if a term is too long)."""
    hashes, indices = [], []
    by_length: dict[int, list[tuple[str, int]]] = {}
    for term, index in vocabulary.items():
        by_length.setdefault(len(term), []).append((term, index))
    for n, terms in by_length.items():
        if not 0 < n < len(_HASH_SALT):
            return np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.intp)
        codes = _code_points("".join(t for t, _ in terms)).reshape(len(terms), n)
        value = np.zeros(len(terms), dtype=np.uint64)
        for column in range(n):
            value = value * _HASH_BASE + codes[:, column]
        hashes.append(value ^ _HASH_SALT[n])
        indices.append(np.array([i for _, i in terms], dtype=np.intp))
    if not hashes:
        return np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.intp)
    return np.concatenate(hashes), np.concatenate(indices)


class _HashTable:
    """Vocabulary indices by 64-bit term hash, looked up for a whole array of hashes at once.

    Cuckoo hashing: every key sits in one of its two slots, so a lookup is two gathers and two
    comparisons, with no probing loop (under cProfile, linear probing's lookups took 57 us a message
    and the cuckoo table's 33 us; a binary search over sorted hashes took 58 us by timeit). The
    table holds at most a third as many keys as slots.
    """

    MAX_KICKS = 500

    def __init__(self, bits: int) -> None:
        self.keys = np.zeros(1 << bits, dtype=np.uint64)
        self.values = np.full(1 << bits, -1, dtype=np.intp)
        self.shift = np.uint64(64 - bits)

    @classmethod
    def build(cls, hashes: np.ndarray, indices: np.ndarray) -> _HashTable | None:
        """The table of ``hashes`` -> ``indices``, or None if two hashes are equal or one is 0."""
        if not len(hashes) or len(np.unique(hashes)) != len(hashes) or not hashes.all():
            return None
        bits = max(4, int(len(hashes) * 3 - 1).bit_length())
        while True:
            table = cls(bits)
            if table._insert_all(hashes, indices):
                return table
            bits += 1  # a cycle of evictions: a larger table (rare at this load)

    def _slots(self, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        first = (hashes * np.uint64(0x9E3779B97F4A7C15)) >> self.shift
        second = (hashes * np.uint64(0xC2B2AE3D27D4EB4F) + np.uint64(0x165667B19E3779F9)) >> self.shift
        return first.astype(np.intp), second.astype(np.intp)

    def _insert_all(self, hashes: np.ndarray, indices: np.ndarray) -> bool:
        keys, values = self.keys, self.values
        first, second = self._slots(hashes)
        slots = dict(zip(hashes.tolist(), zip(first.tolist(), second.tolist(), strict=True), strict=True))
        for key, value in zip(hashes.tolist(), indices.tolist(), strict=True):
            slot = slots[key][0]
            for _ in range(self.MAX_KICKS):
                if not keys[slot]:
                    keys[slot], values[slot] = key, value
                    break
                # Take the slot; the key that was there moves to its other slot.
                key, value, keys[slot], values[slot] = int(keys[slot]), int(values[slot]), key, value
                one, two = slots[key]
                slot = two if slot == one else one
            else:
                return False
        return True

    def find(self, hashes: np.ndarray) -> np.ndarray:
        """The indices of the hashes that are in the table (in no particular order)."""
        first, second = self._slots(hashes)
        one, two = self.keys[first], self.keys[second]
        return np.concatenate([self.values[first[one == hashes]], self.values[second[two == hashes]]])


class FeatureScorer:
    """Sparse features of one message from a fitted ``text_features`` ColumnTransformer."""

    def __init__(self, features: ColumnTransformer) -> None:
        self.parts: list[_CompiledVectorizer] = []
        offset = 0
        for _, vectorizer, column in features.transformers_:
            if vectorizer == "drop":
                continue
            if column != TEXT_COLUMN:
                raise TypeError(f"the feature step reads column {column!r}, expected {TEXT_COLUMN!r}")
            compiled = _CompiledVectorizer(vectorizer, offset)
            self.parts.append(compiled)
            offset += compiled.size
        self.size = offset

    def transform_one(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        pieces = [part.features(text) for part in self.parts]
        if len(pieces) == 1:
            return pieces[0]
        return np.concatenate([p[0] for p in pieces]), np.concatenate([p[1] for p in pieces])


class LinearScorer:
    """Class probabilities of one message from features, without per-call matrix copies."""

    def __init__(self, head: TemperatureScaled) -> None:
        weights, bias = linear_parameters(head.estimator)
        self.classes: tuple[str, ...] = tuple(str(c) for c in head.classes_)
        # Rows are features: scoring gathers a handful of contiguous rows.
        self.weights = np.ascontiguousarray(weights, dtype=np.float64)
        self.bias = np.asarray(bias, dtype=np.float64)
        self.binary_logit = self.weights.shape[1] == 1 and len(self.classes) == 2
        self.temperature = float(head.temperature)

    def proba(self, index: np.ndarray, values: np.ndarray) -> np.ndarray:
        scores = values @ self.weights[index] + self.bias if len(index) else self.bias.copy()
        return self.finish(scores)

    def finish(self, scores: np.ndarray) -> np.ndarray:
        """Probabilities from this head's raw scores (a fresh array: it is changed in place)."""
        if self.binary_logit:
            scores = np.array([0.0, scores[0]])
        scores = scores / self.temperature
        scores -= scores.max()
        exp = np.exp(scores)
        return exp / exp.sum()


class StackedHeads:
    """Linear heads on one feature space, scored with one gather: their weight columns side by side."""

    def __init__(self, heads: dict[str, LinearScorer]) -> None:
        self.heads: list[tuple[str, slice, LinearScorer]] = []
        start = 0
        for name, head in heads.items():
            width = head.weights.shape[1]
            self.heads.append((name, slice(start, start + width), head))
            start += width
        self.weights = np.ascontiguousarray(np.hstack([h.weights for h in heads.values()]))
        self.bias = np.concatenate([h.bias for h in heads.values()])

    def proba(self, index: np.ndarray, values: np.ndarray) -> dict[str, np.ndarray]:
        scores = values @ self.weights[index] + self.bias if len(index) else self.bias.copy()
        return {name: head.finish(scores[part].copy()) for name, part, head in self.heads}


def texts_frame(texts: Sequence[str]) -> pd.DataFrame:
    """The DataFrame shape every pipeline takes (a ``text`` column)."""
    import pandas as pd

    return pd.DataFrame({TEXT_COLUMN: list(texts)})
