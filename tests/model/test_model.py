"""The trained model: candidates, selection, the fast path, persistence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from careassist.classifier import CANDIDATES
from careassist.corpus import load_seed_corpus
from careassist.model import PREDICTION_COLUMNS, AssistantModel, prepare_text
from careassist.persistence import ModelFileError, load_model, save_model
from careassist.training import TrainingError, train_assistant, with_splits

pytestmark = pytest.mark.model


def test_every_candidate_is_fitted_and_the_best_on_validation_is_chosen(trained) -> None:  # type: ignore[no-untyped-def]
    assert set(trained.candidates) == set(CANDIDATES)
    best = max(trained.candidates.values(), key=lambda c: c["validation_macro_f1"])
    assert trained.candidates[trained.chosen] == best
    # The stronger candidates beat the MultinomialNB baseline the product started from.
    assert best["validation_macro_f1"] > trained.candidates["tfidf_mnb"]["validation_macro_f1"]
    assert trained.split_sizes["test"] > 0 and trained.model.metadata["candidate"] == trained.chosen


def test_the_pyfunc_interface_takes_a_text_column(model: AssistantModel) -> None:
    frame = pd.DataFrame({"text": ["how do I help my dad sit up in bed", "I took all my sleeping pills", "who won the game"]})
    predictions = model.predict(frame)
    assert list(predictions.columns) == list(PREDICTION_COLUMNS)
    assert predictions.loc[1, "label"] == "crisis" and bool(predictions.loc[1, "crisis"])
    assert predictions.loc[0, "label"] == "adl_mobility"
    with pytest.raises(ValueError, match="needs a 'text' column"):
        model.predict(pd.DataFrame({"message": ["hi"]}))


def test_the_fast_path_agrees_with_the_pipelines(model: AssistantModel) -> None:
    corpus = load_seed_corpus().sample(300, random_state=1)
    batch = model.predict(corpus[["text"]])
    for (_, row), text in zip(batch.iterrows(), corpus["text"], strict=True):
        one = model.predict_one(text)
        assert one.category == row["category"]
        assert one.confidence == pytest.approx(row["confidence"], abs=1e-6)
        assert one.crisis_score == pytest.approx(row["crisis_score"], abs=1e-6)
        assert one.out_of_scope_score == pytest.approx(row["out_of_scope_score"], abs=1e-6)


def test_probabilities_are_calibrated_enough_to_rank_right_answers_higher(trained, model: AssistantModel) -> None:  # type: ignore[no-untyped-def]
    # The test split: the category head is fitted again on the validation rows once they have set
    # the temperature and the thresholds (training._refit_on_validation).
    frame = with_splits(load_seed_corpus())
    held_out = frame[(frame["split"] == "test") & frame["label"].isin(model.classes)]
    predictions = model.predict(held_out[["text"]])
    correct = predictions["category"].to_numpy() == held_out["label"].to_numpy()
    assert predictions["confidence"][correct].mean() > predictions["confidence"][~correct].mean() + 0.15
    assert 0 < model.thresholds.low_confidence < 1 and 0 < model.thresholds.out_of_scope < 1


def test_save_and_load_round_trip_with_skops(model: AssistantModel, tmp_path: Path) -> None:
    path = tmp_path / "assistant.skops"
    digest = save_model(model, path)
    loaded = load_model(path, expected_sha256=digest)
    texts = ["my mother refuses to shower", "i can't sleep at night"]
    pd.testing.assert_frame_equal(model.predict(pd.DataFrame({"text": texts})), loaded.predict(pd.DataFrame({"text": texts})))
    assert loaded.predict_one(texts[0]) == model.predict_one(texts[0])


def test_the_saved_file_holds_the_shared_features_once_and_vocabularies_compactly(
    model: AssistantModel, tmp_path: Path
) -> None:
    import zipfile

    path = tmp_path / "assistant.skops"
    save_model(model, path)
    features = model.crisis.named_steps["features"]
    vocabulary_sizes = [len(v.vocabulary_) for _, v, _ in features.transformers_]
    # Saving leaves the live model whole.
    assert all(isinstance(v.vocabulary_, dict) for _, v, _ in features.transformers_)
    with zipfile.ZipFile(path) as archive:
        schema = archive.read("schema.json")
    # A vocabulary stored as a dict costs a JSON node per term; packed, terms are not in the schema.
    steps = {id(getattr(model, head).named_steps["features"]) for head in ("category", "out_of_scope", "crisis")}
    # Each distinct step once: its unfitted and fitted vectorizers (``transformers``, ``transformers_``).
    assert schema.count(b'"TfidfVectorizer"') == 2 * len(vocabulary_sizes) * len(steps)
    assert len(schema) < 5 * sum(vocabulary_sizes)  # a dict costs over 100 bytes per term
    loaded = load_model(path)
    assert loaded.out_of_scope.named_steps["features"] is loaded.crisis.named_steps["features"]
    loaded_vocabularies = [v.vocabulary_ for _, v, _ in loaded.crisis.named_steps["features"].transformers_]
    assert loaded_vocabularies == [v.vocabulary_ for _, v, _ in features.transformers_]


def test_a_model_state_of_an_unknown_format_is_refused(model: AssistantModel) -> None:
    state = model.__getstate__() | {"format": 99}
    with pytest.raises(ValueError, match="unknown assistant model state format 99"):
        AssistantModel.__new__(AssistantModel).__setstate__(state)


def test_a_wrong_or_tampered_model_file_is_refused(model: AssistantModel, tmp_path: Path) -> None:
    import skops.io as sio

    path = tmp_path / "assistant.skops"
    save_model(model, path)
    with pytest.raises(ModelFileError, match="checksum mismatch"):
        load_model(path, expected_sha256="0" * 64)
    with pytest.raises(ModelFileError, match="no such model file"):
        load_model(tmp_path / "absent.skops")
    (tmp_path / "junk.skops").write_bytes(b"not a zip")
    with pytest.raises(ModelFileError, match="not a readable model file"):
        load_model(tmp_path / "junk.skops")
    sio.dump({"weights": np.zeros(3)}, tmp_path / "dict.skops")
    with pytest.raises(ModelFileError, match="holds a dict, not an AssistantModel"):
        load_model(tmp_path / "dict.skops")


def test_training_refuses_data_it_cannot_learn_from() -> None:
    corpus = load_seed_corpus()
    with pytest.raises(TrainingError, match="no training rows for categories: disabilities"):
        train_assistant(corpus[corpus["label"] != "disabilities"])
    with pytest.raises(TrainingError, match="no out-of-scope training rows"):
        train_assistant(corpus[corpus["label"] != "out_of_scope"])


# -- training at scale -------------------------------------------------------------------------
_AWKWARD_TEXTS = [
    "",
    "a",
    "ab",
    "I   can't\tsleep\u00a0at night \u2003ok",
    "Café CAFÉ naïve e\u0301 ß ﬁ İstanbul ǅ",
    "ℌello Ⅻ ᴬb: forms that change again under lower()",
    "hello hello hello world world",
    "0 00 000 a0b b0a",
]


def _assert_same_matrix(expected, actual) -> None:  # type: ignore[no-untyped-def]
    expected = expected.tocsr()
    expected.sort_indices()
    assert actual.shape == expected.shape
    np.testing.assert_array_equal(actual.indptr, expected.indptr)
    np.testing.assert_array_equal(actual.indices, expected.indices)
    np.testing.assert_array_equal(actual.data, expected.data)
    assert actual.dtype == expected.dtype


def test_the_batch_transform_equals_the_feature_steps_own(model: AssistantModel) -> None:
    from careassist.classifier import texts_frame, transform_texts

    texts = [prepare_text(t) for t in load_seed_corpus()["text"].sample(3000, random_state=3)] + _AWKWARD_TEXTS
    for pipeline in (model.category, model.crisis):
        features = pipeline.named_steps["features"]
        _assert_same_matrix(features.transform(texts_frame(texts)), transform_texts(features, texts))


def test_the_batch_transform_covers_other_vectorizer_options_or_defers_to_them() -> None:
    from sklearn.compose import ColumnTransformer

    from careassist.classifier import char_vectorizer, texts_frame, transform_texts, word_vectorizer

    texts = [prepare_text(t) for t in load_seed_corpus()["text"].head(800)] + _AWKWARD_TEXTS
    steps = [
        word_vectorizer(ngram_range=(1, 1), binary=True),
        word_vectorizer(ngram_range=(2, 2), min_df=2),
        word_vectorizer(stop_words="english"),  # not covered: its own transform is used
        char_vectorizer(ngram_range=(2, 4), sublinear_tf=False, norm="l1"),
        char_vectorizer(analyzer="char"),  # not covered either
    ]
    for step in steps:
        features = ColumnTransformer([("text", step, "text")], sparse_threshold=1.0).fit(texts_frame(texts[:500]))
        _assert_same_matrix(features.transform(texts_frame(texts)), transform_texts(features, texts))


def test_the_word_features_are_the_word_block_of_the_shared_features() -> None:
    from careassist.classifier import text_features, texts_frame

    texts = texts_frame([prepare_text(t) for t in load_seed_corpus()["text"].head(2000)])
    word_char = text_features("word_char").fit(texts)
    words = text_features("word").fit(texts)
    _assert_same_matrix(words.transform(texts), word_char.transform(texts).tocsr()[:, word_char.output_indices_["word"]])


def _two_sources() -> pd.DataFrame:
    big = pd.DataFrame(
        {
            "text": [f"big message {i}" for i in range(1000)],
            "label": ["a"] * 600 + ["b"] * 300 + ["c"] * 100,
            "kind": ["general"] * 590 + ["idiom"] * 10 + ["general"] * 400,
            "source": "big",
        }
    )
    small = pd.DataFrame({"text": [f"small message {i}" for i in range(50)], "label": "a", "kind": "general", "source": "small"})
    return pd.concat([big, small], ignore_index=True)


def test_over_budget_the_largest_source_is_sampled_by_label_and_kind_and_keeps_its_weight() -> None:
    from careassist.training import SOURCE_WEIGHT_CAP, sample_training_rows, source_weights

    frame = _two_sources()
    assert sample_training_rows(frame, max_rows=len(frame)).all()
    keep = sample_training_rows(frame, max_rows=250)
    kept = frame[keep]
    assert (kept["source"] == "small").sum() == 50  # under the common size: kept whole
    big = kept[kept["source"] == "big"]
    assert big.groupby(["label", "kind"]).size().to_dict() == {
        ("a", "general"): 118,
        ("a", "idiom"): 2,
        ("b", "general"): 60,
        ("c", "general"): 20,
    }
    # The same rows in another order give the same sample.
    shuffled = frame.sample(frac=1.0, random_state=5).reset_index(drop=True)
    assert set(shuffled[sample_training_rows(shuffled, max_rows=250)]["text"]) == set(kept["text"])
    # Two sources over the common size are both cut to it.
    third = frame[frame["source"] == "big"].assign(source="other", text=lambda f: "other " + f["text"])
    three = pd.concat([frame, third], ignore_index=True)
    assert three[sample_training_rows(three, max_rows=450)]["source"].value_counts().to_dict() == {
        "big": 200,
        "other": 200,
        "small": 50,
    }

    weights = pd.Series(source_weights(kept["source"], population=frame["source"]), index=kept.index)
    totals = weights.groupby(kept["source"]).sum()
    # Each source weighs what all of its rows would have: the big one SOURCE_WEIGHT_CAP-capped.
    assert totals["big"] / totals["small"] == pytest.approx(min(1000.0, SOURCE_WEIGHT_CAP) / 50)
    assert weights.mean() == pytest.approx(1.0)
    counts = frame["source"].map(frame["source"].value_counts()).to_numpy(dtype=float)
    unsampled = np.minimum(1.0, SOURCE_WEIGHT_CAP / counts)
    np.testing.assert_array_equal(source_weights(frame["source"]), unsampled / unsampled.mean())


def test_a_training_budget_below_one_row_is_refused() -> None:
    with pytest.raises(TrainingError, match="max_training_rows must be at least 1, got 0"):
        train_assistant(load_seed_corpus(), max_training_rows=0)


def test_training_on_a_sampled_source_is_recorded_and_repeatable() -> None:
    corpus = load_seed_corpus()
    first = train_assistant(corpus, max_training_rows=3000)
    second = train_assistant(corpus.sample(frac=1.0, random_state=2), max_training_rows=3000)
    train_rows = first.split_sizes["train"]
    assert train_rows > 3000 and first.split_sizes == second.split_sizes
    assert first.sampled_sources == second.sampled_sources
    assert first.sampled_sources["seed"]["rows"] == train_rows
    assert 3000 <= first.sampled_sources["seed"]["used"] < 3100
    assert first.model.metadata["sampled_sources"] == first.sampled_sources
    texts = corpus[["text"]].sample(400, random_state=4)
    again = train_assistant(corpus, max_training_rows=3000)
    batch = first.model.predict(texts)
    pd.testing.assert_frame_equal(batch, again.model.predict(texts), check_exact=True)
    assert first.model.thresholds == again.model.thresholds
    for text, confidence in zip(texts["text"][:50], batch["confidence"][:50], strict=True):
        assert first.model.predict_one(text).confidence == pytest.approx(confidence, abs=1e-6)


def test_temperature_is_the_grid_value_with_the_least_validation_log_loss() -> None:
    import math

    from careassist.classifier import fit_temperature, softmax

    rng = np.random.default_rng(11)
    grid = np.exp(np.linspace(math.log(0.05), math.log(20.0), 121))
    for scale in (0.01, 1.0, 30.0):
        scores = rng.normal(size=(300, 5)) * scale
        y = rng.integers(0, 5, size=300)
        losses = [-np.log(np.clip(softmax(scores / t)[np.arange(300), y], 1e-12, None)).mean() for t in grid]
        assert fit_temperature(scores, y) == grid[int(np.argmin(losses))]


def test_per_word_char_ngrams_are_the_vectorizers_own_counts_even_when_the_memo_starts_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from collections import Counter

    from sklearn.compose import ColumnTransformer

    from careassist.classifier import FeatureScorer, char_vectorizer, texts_frame

    sample = [prepare_text(t) for t in load_seed_corpus()["text"].sample(400, random_state=3)]
    step = char_vectorizer(analyzer="char_wb", ngram_range=(3, 5), min_df=2)
    features = ColumnTransformer([("char", step, "text")], sparse_threshold=1.0).fit(texts_frame(sample[:300]))
    parts = [part for part in FeatureScorer(features).parts if part.by_word]
    assert parts, "a char_wb vectorizer is compiled to the per-word path"
    monkeypatch.setattr(type(parts[0]), "WORD_MEMO_SIZE", 7)
    for text in sample[300:360] + _AWKWARD_TEXTS:
        for part in parts:
            expected = Counter(part.vocabulary[t] for t in part.analyze(text) if t in part.vocabulary)
            assert part.counts(text) == dict(expected)
            assert len(part.words) <= 7


def test_char_ngrams_found_by_hash_are_the_vectorizers_own_counts(model: AssistantModel) -> None:
    from collections import Counter

    parts = [part for scorer in model.compiled().scorers for part in scorer.parts if part.by_slices]
    assert parts, "the word_char features have a char part, compiled to the hashed path"
    texts = [prepare_text(t) for t in load_seed_corpus()["text"].sample(400, random_state=4)]
    for text in texts + _AWKWARD_TEXTS + ["  x \t\t y  ", "\ud800 lone surrogate", "😀😀 hi", "naïve café"]:
        for part in parts:
            expected = Counter(part.vocabulary[t] for t in part.analyze(text) if t in part.vocabulary)
            assert part.counts(text) == dict(expected), text


def test_the_hash_table_refuses_equal_hashes_so_the_analyzer_is_used_instead() -> None:
    from careassist.classifier import _code_points, _HashTable, _slice_hashes, _term_hashes

    hashes, indices = _term_hashes({"abc": 0, "bcd": 1, "cdef": 2})
    table = _HashTable.build(hashes, indices)
    assert table is not None
    found = table.find(_slice_hashes(_code_points("xabcdefx"), 3, 6))
    assert sorted(found.tolist()) == [0, 1, 2]
    assert table.find(_slice_hashes(_code_points("zzzz"), 3, 6)).size == 0
    assert _HashTable.build(np.array([5, 5], dtype=np.uint64), np.array([0, 1])) is None
    assert _HashTable.build(np.array([0, 7], dtype=np.uint64), np.array([0, 1])) is None


def test_the_hash_table_grows_when_evictions_go_round_in_circles(monkeypatch: pytest.MonkeyPatch) -> None:
    from careassist.classifier import _HashTable

    hashes = np.unique(np.random.default_rng(0).integers(1, 2**63, size=200, dtype=np.uint64))
    assert len(hashes) == 200
    default = _HashTable.build(hashes, np.arange(200))
    monkeypatch.setattr(_HashTable, "MAX_KICKS", 1)  # any clash fails: the table must grow
    grown = _HashTable.build(hashes, np.arange(200))
    assert default is not None and grown is not None
    assert len(grown.keys) > len(default.keys)
    for table in (default, grown):
        assert sorted(table.find(hashes).tolist()) == list(range(200))
        assert table.find(hashes + np.uint64(1)).size == 0
