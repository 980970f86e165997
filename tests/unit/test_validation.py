from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from careassist import ingest, privacy, validation
from careassist.corpus import load_seed_corpus
from careassist.validation import ValidationFailed

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def sample() -> pd.DataFrame:
    return load_seed_corpus().groupby("label").head(3).reset_index(drop=True)


def run(settings, frame: pd.DataFrame, name: str = "batch.csv") -> validation.ValidationReport:  # type: ignore[no-untyped-def]
    raw = Path(settings.raw_location)
    raw.mkdir(parents=True, exist_ok=True)
    for old in raw.iterdir():
        old.unlink()
    frame.to_csv(raw / name, index=False)
    return validation.validate_staged(ingest.ingest(settings), settings)


def test_a_good_batch_is_published_and_becomes_current(settings, sample: pd.DataFrame) -> None:  # type: ignore[no-untyped-def]
    report = run(settings, sample)
    assert report.success
    assert report.statistics["evaluated_expectations"] == report.statistics["successful_expectations"] >= 15
    version = ingest.current_version(settings)
    assert version == report.dataset_version
    published = ingest.snapshot_location(settings)
    assert sorted(published.list_files()) == ["data.parquet", "manifest.json", "validation.json"]
    saved = json.loads(published.read_bytes("validation.json"))
    assert saved["success"] is True and saved["dataset_version"] == version
    assert not any(Path(settings.datasets_location, "staging").iterdir())


def test_the_same_batch_twice_gives_the_same_version_and_no_new_snapshot(settings, sample: pd.DataFrame) -> None:  # type: ignore[no-untyped-def]
    first = run(settings, sample)
    second = run(settings, sample)
    assert first.dataset_version == second.dataset_version
    assert len(list(Path(settings.datasets_location, "snapshots").iterdir())) == 1


def test_a_bad_batch_is_quarantined_and_the_last_good_one_stays_current(settings, sample: pd.DataFrame) -> None:  # type: ignore[no-untyped-def]
    good = run(settings, sample).dataset_version
    bad = sample.copy()
    bad.loc[5, "label"] = "dental_care"
    bad.loc[7, "text"] = "x" * (settings.max_text_chars + 1)
    with pytest.raises(ValidationFailed) as info:
        run(settings, bad, "bad.csv")
    message = str(info.value)
    assert "expect_column_values_to_be_in_set column 'label': 1 of" in message
    assert "bad.csv row 7 field 'label': 'dental_care'" in message
    assert "expect_column_value_lengths_to_be_between column 'text'" in message
    assert "bad.csv row 9 field 'text'" in message
    assert ingest.current_version(settings) == good
    quarantined = list(Path(settings.datasets_location, "quarantine").iterdir())
    assert len(quarantined) == 1
    assert sorted(p.name for p in quarantined[0].iterdir()) == ["data.parquet", "manifest.json", "validation.json"]
    report = json.loads((quarantined[0] / "validation.json").read_text())
    assert report["success"] is False and len(report["failures"]) == 2
    assert info.value.report["failures"] == report["failures"]


def test_too_few_rows_in_a_category_and_no_crisis_examples_fail(make_settings, sample: pd.DataFrame) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(min_rows_per_category=3)
    first_disabilities = sample.index[sample["label"] == "disabilities"][0]
    thin = sample[sample["label"] != "crisis"].drop(index=first_disabilities)
    with pytest.raises(ValidationFailed) as info:
        run(settings, thin.reset_index(drop=True))
    message = str(info.value)
    assert "label 'crisis': 0 rows" in message
    assert "label 'disabilities': 2 rows" in message
    assert "expect_column_distinct_values_to_contain_set column 'label'" in message


def test_pii_left_in_a_snapshot_is_caught(settings, sample: pd.DataFrame) -> None:  # type: ignore[no-untyped-def]
    snapshot, _ = ingest.build_snapshot([sample.assign(source_file="s.csv", source_row=range(2, len(sample) + 2))])
    snapshot["dataset_version"] = "ds-test"
    snapshot.loc[0, "text"] = "reach me at someone@example.com"
    report = validation.validate_frame(snapshot, settings, "ds-test")
    assert not report.success
    [failure] = report.failures
    assert failure["expectation"] == "expect_column_values_to_not_match_regex_list"
    assert "someone@example.com" in failure["examples"][0]


def test_the_full_seed_corpus_passes_with_the_default_thresholds(make_settings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(min_rows_per_category=150)
    raw = Path(settings.raw_location)
    raw.mkdir(parents=True)
    load_seed_corpus().to_csv(raw / "seed_corpus.csv", index=False)
    report = validation.validate_staged(ingest.ingest(settings), settings)
    assert report.success, report.summary()
    assert min(report.statistics["rows_per_category"].values()) >= 150


def test_digits_inside_a_word_are_not_an_address_but_an_address_still_fails(settings, sample: pd.DataFrame) -> None:  # type: ignore[no-untyped-def]
    # "hwy" is a typo of "why" (the generator swaps letters as people do); "hla b27" is a gene test.
    legitimate = "what is hla b27 and hwy did they test my son for it when he went in for back pain"
    assert privacy.redact(legitimate) == legitimate  # redaction leaves it: validation must agree
    snapshot, _ = ingest.build_snapshot([sample.assign(source_file="s.csv", source_row=range(2, len(sample) + 2))])
    snapshot["dataset_version"] = "ds-test"
    snapshot.loc[0, "text"] = legitimate
    report = validation.validate_frame(snapshot, settings, "ds-test")
    assert report.success, report.summary()

    snapshot.loc[1, "text"] = "we moved to 27 old mill hwy last spring"
    [failure] = validation.validate_frame(snapshot, settings, "ds-test").failures
    assert failure["expectation"] == "expect_column_values_to_not_match_regex_list"
    assert "27 old mill hwy" in failure["examples"][0] and len(failure["examples"]) == 1
