"""The trained model: candidates, selection, the fast path, persistence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from careassist.classifier import CANDIDATES
from careassist.corpus import load_seed_corpus
from careassist.model import PREDICTION_COLUMNS, AssistantModel
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
    frame = with_splits(load_seed_corpus())
    valid = frame[(frame["split"] == "validation") & frame["label"].isin(model.classes)]
    predictions = model.predict(valid[["text"]])
    correct = predictions["category"].to_numpy() == valid["label"].to_numpy()
    assert predictions["confidence"][correct].mean() > predictions["confidence"][~correct].mean() + 0.15
    assert 0 < model.thresholds.low_confidence < 1 and 0 < model.thresholds.out_of_scope < 1


def test_save_and_load_round_trip_with_skops(model: AssistantModel, tmp_path: Path) -> None:
    path = tmp_path / "assistant.skops"
    digest = save_model(model, path)
    loaded = load_model(path, expected_sha256=digest)
    texts = ["my mother refuses to shower", "i can't sleep at night"]
    pd.testing.assert_frame_equal(model.predict(pd.DataFrame({"text": texts})), loaded.predict(pd.DataFrame({"text": texts})))
    assert loaded.predict_one(texts[0]) == model.predict_one(texts[0])


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
