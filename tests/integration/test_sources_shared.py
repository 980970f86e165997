"""The dataset adapters on the real public datasets of ``../shared/data`` (skipped when absent)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from careassist.settings import Settings
from careassist.sources import (
    COLUMNS,
    DATASET_FILES,
    REDDIT_CRISIS_REVIEWS,
    read_public_sources,
)
from careassist.taxonomy import DATA_LABELS, KINDS

pytestmark = pytest.mark.shared_data

#: Rows kept per source: well above what a broken map would keep, below the rows of each file.
PLAUSIBLE_ROWS = {
    "medquad": (10_000, 17_748),
    "counselchat": (400, 781),
    "medicationqa": (550, 651),
    "reddit": (2_500, 3_573),
}


@pytest.fixture(scope="module")
def folder() -> Path:
    path = Settings().shared_data_dir.resolve()
    if not path.is_dir():
        pytest.skip(f"public datasets not found at {path}: set CAREASSIST_SHARED_DATA_DIR to their folder")
    return path


@pytest.fixture(scope="module")
def frame(folder: Path) -> pd.DataFrame:
    return read_public_sources(folder)


def test_rows_per_source_are_plausible(frame: pd.DataFrame) -> None:
    counts = pd.crosstab(frame["label"], frame["source"], margins=True, margins_name="total")
    print("\nrows per label and source:\n" + counts.to_string())
    print("dropped:", frame.attrs["dropped"])
    for source, (low, high) in PLAUSIBLE_ROWS.items():
        assert low <= (frame["source"] == source).sum() <= high, source


def test_columns_labels_and_kinds_are_valid(frame: pd.DataFrame) -> None:
    assert tuple(frame.columns) == COLUMNS
    assert set(frame["label"]) <= set(DATA_LABELS)
    assert set(frame["kind"]) <= set(KINDS)
    assert frame["text"].str.len().gt(0).all()
    assert not frame.duplicated(["source", "source_id"]).any()
    assert frame.groupby("source")["provenance"].nunique().eq(1).all()


def test_crisis_rows_come_only_from_reviewed_labels(frame: pd.DataFrame, folder: Path) -> None:
    reviews = pd.read_csv(folder / DATASET_FILES["reddit_labels"], dtype=str, keep_default_na=False)
    crisis_ids = set(reviews.loc[reviews["label"].isin(REDDIT_CRISIS_REVIEWS), "id"])
    crisis = frame[frame["label"] == "crisis"]
    assert set(crisis["source"]) == {"reddit"}
    assert set(crisis["source_id"]) == crisis_ids  # every reviewed crisis post is kept, and only those
    unclear = set(reviews.loc[reviews["label"] == "unclear", "id"])
    assert unclear.isdisjoint(frame.loc[frame["source"] == "reddit", "source_id"])


def test_suicidewatch_posts_are_used_only_with_a_review(frame: pd.DataFrame, folder: Path) -> None:
    posts = pd.read_csv(folder / DATASET_FILES["reddit"], dtype=str, keep_default_na=False)
    reviewed = set(pd.read_csv(folder / DATASET_FILES["reddit_labels"], dtype=str)["id"])
    suicidewatch = set(posts.loc[posts["subreddit"].str.lower() == "suicidewatch", "id"])
    kept = set(frame.loc[frame["source"] == "reddit", "source_id"])
    assert (suicidewatch & kept) <= reviewed
