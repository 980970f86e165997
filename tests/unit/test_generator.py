from __future__ import annotations

import pandas as pd
import pytest

from careassist.corpus import load_seed_corpus
from careassist.generator import DEFAULT_END, DEFAULT_SPAN, generate_conversations
from careassist.ingest import normalise_text, text_key

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def corpus() -> pd.DataFrame:
    return load_seed_corpus()


def test_the_same_seed_gives_the_same_conversations(corpus: pd.DataFrame) -> None:
    first = generate_conversations(3000, seed=11, corpus=corpus)
    pd.testing.assert_frame_equal(first, generate_conversations(3000, seed=11, corpus=corpus))
    assert not first["text"].equals(generate_conversations(3000, seed=12, corpus=corpus)["text"])


def test_rows_are_distinct_labelled_and_grouped_in_sessions(corpus: pd.DataFrame) -> None:
    frame = generate_conversations(20_000, corpus=corpus)
    assert len(frame) == 20_000
    assert text_key(normalise_text(frame["text"])).duplicated().mean() < 0.01
    labels = dict(zip(corpus["text"], corpus["label"], strict=False))
    # Every generated text contains its seed message (up to surface changes) and keeps its label.
    assert set(frame["label"]) <= set(labels.values())
    sessions = frame.groupby("session_id")
    assert sessions.size().between(1, 6).all()
    assert (sessions["event_timestamp"].apply(lambda s: s.is_monotonic_increasing)).all()
    assert frame["event_timestamp"].min() >= pd.Timestamp(DEFAULT_END - DEFAULT_SPAN)
    assert frame["event_timestamp"].max() <= pd.Timestamp(DEFAULT_END) + pd.Timedelta(hours=2)
    # Every label is represented, in about its share of the seed corpus.
    share = frame["label"].value_counts(normalize=True)
    seed_share = corpus["label"].value_counts(normalize=True)
    assert set(share.index) == set(seed_share.index)
    assert ((share - seed_share).abs() < 0.01).all(), (share - seed_share).abs().max()


def test_labels_follow_the_seed_message(corpus: pd.DataFrame) -> None:
    small = corpus.iloc[:3].assign(label=["adl_mobility", "crisis", "out_of_scope"])
    frame = generate_conversations(200, corpus=small)
    for seed_text, label in zip(small["text"], small["label"], strict=True):
        probe = seed_text.lower().rstrip(".!?")[:12]
        matching = frame[frame["text"].str.lower().str.contains(probe, regex=False)]
        assert not matching.empty and set(matching["label"]) == {label}


def test_asking_for_more_rows_than_the_corpus_can_vary_is_an_error(corpus: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="distinct combinations"):
        generate_conversations(10**9, corpus=corpus.iloc[:2])
    with pytest.raises(ValueError, match="at least 1"):
        generate_conversations(0, corpus=corpus)
