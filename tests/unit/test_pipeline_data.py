"""The pipeline's data steps on the embedded profile: raw-change detection, validation, training set."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from careassist import bootstrap, ingest, pipeline
from careassist.storage import Location
from careassist.validation import ValidationFailed

CUTOFF = datetime(2026, 11, 20, tzinfo=UTC)


@pytest.fixture
def seeded(make_settings):  # type: ignore[no-untyped-def]
    settings = make_settings()
    bootstrap.initialise(settings)
    return settings


def test_a_raw_change_is_reported_once_and_again_after_new_files(seeded) -> None:  # type: ignore[no-untyped-def]
    first = pipeline.detect_raw_change(seeded)
    assert first is not None and first["previous"] is None
    assert pipeline.detect_raw_change(seeded) is None
    Location(seeded.raw_location, seeded).write_bytes("more.csv", b"text,label\nmy dad fell,fall_prevention\n")
    second = pipeline.detect_raw_change(seeded)
    assert second is not None and second["previous"] == first["fingerprint"]


def test_steps_pass_references_and_a_rerun_gives_the_same_training_set(seeded) -> None:  # type: ignore[no-untyped-def]
    staged = pipeline.ingest_step(seeded)
    assert set(staged) == {"dataset_version", "staged_uri", "rows"}
    validated = pipeline.validate_step(seeded, staged["dataset_version"])
    assert ingest.current_version(seeded) == staged["dataset_version"]
    assert validated["validation_report_uri"].endswith("validation.json")
    first = pipeline.training_set_step(seeded, staged["dataset_version"], CUTOFF)
    # A re-run of the same interval: same version, nothing restaged, same rows and hash.
    again = pipeline.validate_step(seeded, pipeline.ingest_step(seeded)["dataset_version"])
    assert again == validated
    second = pipeline.training_set_step(seeded, staged["dataset_version"], CUTOFF)
    assert second == first
    frame = pipeline.read_training_set(seeded, first["training_set_uri"])
    assert len(frame) == first["rows"] == staged["rows"]
    assert {"text", "label", "kind", "source", "messages_24h", "word_count"} <= set(frame.columns)
    held_out = pipeline.evaluation_frame(frame)
    assert 0 < len(held_out) < len(frame) and set(held_out["split"]) == {"test"}


def test_an_altered_training_set_is_refused(seeded) -> None:  # type: ignore[no-untyped-def]
    version = pipeline.ingest_step(seeded)["dataset_version"]
    pipeline.validate_step(seeded, version)
    uri = pipeline.training_set_step(seeded, version, CUTOFF)["training_set_uri"]
    folder, _, name = uri.rpartition("/")
    frame = pd.read_parquet(f"{folder}/{name}")
    frame.loc[0, "label"] = "nutrition_wellness" if frame.loc[0, "label"] != "nutrition_wellness" else "disabilities"
    frame.to_parquet(f"{folder}/{name}", index=False)
    with pytest.raises(pipeline.PipelineError, match="does not match its hash"):
        pipeline.read_training_set(seeded, uri)


def test_a_bad_batch_fails_validation_and_the_current_dataset_stays(seeded) -> None:  # type: ignore[no-untyped-def]
    good = pipeline.ingest_step(seeded)["dataset_version"]
    pipeline.validate_step(seeded, good)
    raw = Location(seeded.raw_location, seeded)
    raw.write_bytes("bad.csv", b"text,label\nmy mom needs help,not_a_category\n")
    bad = pipeline.ingest_step(seeded)["dataset_version"]
    with pytest.raises(ValidationFailed, match="not_a_category"):
        pipeline.validate_step(seeded, bad)
    assert ingest.current_version(seeded) == good
    with pytest.raises(pipeline.PipelineError, match="neither staged nor published"):
        pipeline.validate_step(seeded, bad)
