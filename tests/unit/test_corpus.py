"""The seed corpus meets the bar the foundation issue sets for the project's own training data."""

from __future__ import annotations

import pandas as pd
import pytest

from careassist.corpus import SEED_COLUMNS, load_seed_corpus
from careassist.ingest import normalise_text, text_key
from careassist.taxonomy import (
    CATEGORIES,
    CRISIS_KINDS,
    DATA_LABELS,
    GENERAL_KIND,
    HARD_NEGATIVE_KINDS,
    KINDS,
    OUT_OF_SCOPE,
)

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def corpus() -> pd.DataFrame:
    return load_seed_corpus()


def test_every_row_is_well_formed(corpus: pd.DataFrame) -> None:
    assert set(SEED_COLUMNS) <= set(corpus.columns)
    assert corpus["label"].isin(DATA_LABELS).all()
    assert corpus["kind"].isin(KINDS).all()
    assert (corpus["text"].str.strip() != "").all()
    assert corpus["provenance"].str.contains("careassist-team authored").all()


def test_at_least_150_distinct_ordinary_messages_per_category(corpus: pd.DataFrame) -> None:
    keys = text_key(normalise_text(corpus["text"]))
    for label in CATEGORIES:
        rows = corpus["label"] == label
        distinct = keys[rows & corpus["kind"].isin([GENERAL_KIND, *CRISIS_KINDS])].nunique()
        assert distinct >= 150, f"{label}: {distinct} distinct messages"
    assert len(corpus) >= 1650


def test_no_message_is_repeated_under_two_labels_or_twice_in_one(corpus: pd.DataFrame) -> None:
    keys = text_key(normalise_text(corpus["text"]))
    assert not keys.duplicated().any(), corpus.loc[keys.duplicated(keep=False), "text"].tolist()[:5]


def test_at_least_40_crisis_messages_of_every_kind(corpus: pd.DataFrame) -> None:
    crisis = corpus[corpus["label"] == "crisis"]
    counts = crisis["kind"].value_counts()
    assert set(crisis["kind"]) == set(CRISIS_KINDS)
    assert all(counts[kind] >= 40 for kind in CRISIS_KINDS), counts.to_dict()
    # Crisis sentences buried in long messages still count.
    assert (crisis["text"].str.split().str.len() >= 35).sum() >= 40


def test_hard_negatives_and_out_of_scope(corpus: pd.DataFrame) -> None:
    hard = corpus[corpus["kind"].isin(HARD_NEGATIVE_KINDS)]
    assert len(hard) >= 150
    assert set(hard["kind"]) == set(HARD_NEGATIVE_KINDS)
    assert not (hard["label"] == "crisis").any()
    out_of_scope = corpus[corpus["label"] == OUT_OF_SCOPE]
    assert len(out_of_scope) >= 150
    assert (out_of_scope["kind"] == "out_of_scope").all()


def test_registers_are_varied_in_every_category(corpus: pd.DataFrame) -> None:
    for label in DATA_LABELS:
        rows = corpus[corpus["label"] == label]
        lengths = rows["text"].str.split().str.len()
        assert lengths.min() <= 5 and lengths.max() >= 40, label
        lowercase = (rows["text"] == rows["text"].str.lower()).mean()
        assert lowercase >= 0.08, f"{label}: {lowercase:.0%} all-lowercase"
        assert rows["register"].nunique() >= 5, label
