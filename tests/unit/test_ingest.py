from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from careassist import ingest
from careassist.corpus import load_seed_corpus
from careassist.ingest import IngestError, build_snapshot, read_raw_file
from careassist.storage import Location

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def sample() -> pd.DataFrame:
    """Three seed messages of every label: a small batch that passes validation."""
    return load_seed_corpus().groupby("label").head(3).reset_index(drop=True)


def write_raw(folder: Path, name: str, frame: pd.DataFrame) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if name.endswith(".csv"):
        frame.to_csv(path, index=False)
    elif name.endswith(".jsonl"):
        frame.to_json(path, orient="records", lines=True)
    else:
        frame.to_parquet(path, index=False)
    return path


def test_csv_jsonl_and_parquet_are_read_with_lineage(tmp_path: Path, sample: pd.DataFrame) -> None:
    for name in ("a.csv", "b.jsonl", "c.parquet"):
        path = write_raw(tmp_path, name, sample)
        frame = read_raw_file(str(path), path.read_bytes())
        assert len(frame) == len(sample)
        assert frame["source_file"].iloc[0] == name
        assert list(frame["text"]) == list(sample["text"])
    csv_frame = read_raw_file("a.csv", (tmp_path / "a.csv").read_bytes())
    assert csv_frame["source_row"].iloc[0] == 2  # the header is row 1


def test_text_is_normalised_deduplicated_and_redacted() -> None:
    raw = pd.DataFrame(
        {
            "text": [
                "Cafe\u0301 visits tire my\tmother   out",  # NFD accent, tab, spaces
                "Café visits tire my mother out",  # exact duplicate after normalisation
                "cafe\u0301 visits, tire my mother out!",  # normalised duplicate
                "my dad can't sit up in bed, call me at 555-201-3344",
                "I want to end it all",
                "i want to end it all",
            ],
            "label": ["nutrition_wellness"] * 3 + ["adl_mobility", "mental_health", "crisis"],
            "source_file": "x.csv",
            "source_row": range(2, 8),
        }
    )
    snapshot, facts = build_snapshot([raw])
    texts = set(snapshot["text"])
    assert "Café visits tire my mother out" in texts
    assert len(snapshot) == 3
    assert facts["duplicates_removed"] == {"exact": 1, "normalised": 2}
    assert "my dad can't sit up in bed, call me at [PHONE]" in texts
    assert facts["pii_redactions"] == {"PHONE": 1}
    # Of two copies of a message, the crisis label is kept whatever the order.
    assert snapshot.loc[snapshot["text"].str.casefold() == "i want to end it all", "label"].tolist() == ["crisis"]
    assert facts["label_conflicts_in_duplicates"] == 1


def test_ids_and_version_are_stable_and_follow_the_content(sample: pd.DataFrame) -> None:
    raw = sample.assign(source_file="s.csv", source_row=range(2, len(sample) + 2))
    first, _ = build_snapshot([raw])
    again, _ = build_snapshot([raw.sample(frac=1, random_state=3)])
    # Row order in the input does not matter; source_row does (lineage), so compare without it.
    cols = [c for c in first.columns if c != "source_row"]
    pd.testing.assert_frame_equal(first[cols], again[cols])
    assert ingest.content_version(first) == ingest.content_version(build_snapshot([raw])[0])
    changed = raw.copy()
    changed.loc[0, "text"] = "a brand new message about grab bars in the hallway"
    assert ingest.content_version(build_snapshot([changed])[0]) != ingest.content_version(first)
    assert first["conversation_id"].is_unique
    assert first["event_timestamp"].dt.tz is not None


def test_staging_writes_the_snapshot_and_its_manifest(settings, sample: pd.DataFrame) -> None:  # type: ignore[no-untyped-def]
    write_raw(Path(settings.raw_location), "seed.csv", sample)
    batch = ingest.ingest(settings)
    location = Location(batch.uri)
    assert sorted(location.list_files()) == ["data.parquet", "manifest.json"]
    manifest = json.loads(location.read_bytes("manifest.json"))
    assert manifest["dataset_version"] == batch.version
    assert manifest["rows"] == len(sample) == batch.rows
    assert manifest["rows_per_label"]["crisis"] == 3
    assert manifest["rows_per_source"] == {"seed": len(sample)}
    frame = ingest.read_snapshot_frame(location)
    assert list(frame.columns) == list(ingest.SNAPSHOT_COLUMNS)
    assert set(frame["dataset_version"]) == {batch.version}


def test_a_failed_write_leaves_nothing_staged(settings, sample: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    write_raw(Path(settings.raw_location), "seed.csv", sample)
    real_write = Location.write_bytes

    def failing_write(self: Location, name: str, data: bytes) -> str:
        if name == ingest.MANIFEST_FILE:
            raise OSError("disk full")
        return real_write(self, name, data)

    monkeypatch.setattr(Location, "write_bytes", failing_write)
    with pytest.raises(OSError, match="disk full"):
        ingest.ingest(settings)
    staging = Path(settings.datasets_location) / "staging"
    assert not staging.exists() or list(staging.iterdir()) == []


def test_rows_without_timestamp_get_a_deterministic_one(sample: pd.DataFrame) -> None:
    raw = sample.assign(source_file="s.csv", source_row=range(2, len(sample) + 2))
    raw["event_timestamp"] = None
    raw.loc[0, "event_timestamp"] = "2026-05-04T10:00:00+02:00"
    snapshot, _ = build_snapshot([raw])
    stamp = snapshot.loc[snapshot["source_row"] == 2, "event_timestamp"].iloc[0]
    assert stamp == pd.Timestamp("2026-05-04T08:00:00Z")
    others = snapshot.loc[snapshot["source_row"] != 2, "event_timestamp"]
    assert others.between(pd.Timestamp(ingest.DEFAULT_EVENT_EPOCH), pd.Timestamp(ingest.DEFAULT_EVENT_EPOCH + ingest.DEFAULT_EVENT_WINDOW)).all()


# -- bad input: an error that names the file, row and field; nothing written ----------------
@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", b"", "empty.csv: the file is empty"),
        ("blank.csv", b"\n\n  \n", "blank.csv: the file is empty"),
        ("header.csv", b"text,label\n", "header.csv: the file has a header but no rows"),
        ("cols.csv", b"message,category\nhi,crisis\n", "cols.csv: missing required column(s) text, label; found message, category"),
        ("latin.csv", "text,label\nok,crisis\ncaf\xe9 help,crisis\n".encode("latin-1"), "latin.csv: line 3: not valid UTF-8"),
        ("rows.csv", b'text,label\n"a",crisis\n"b",crisis,extra,fields\n', "rows.csv: malformed row"),
        ("bad.jsonl", b'{"text": "a", "label": "crisis"}\n{"text": "b", "label": \n', "bad.jsonl: line 2: malformed JSON"),
        ("list.jsonl", b'["a", "crisis"]\n', "list.jsonl: line 1: expected a JSON object"),
        ("num.jsonl", b'{"text": "a", "label": "crisis"}\n{"text": 42, "label": "crisis"}\n', "num.jsonl: row 2: field 'text' must be text"),
        ("notes.txt", b"text,label\n", "notes.txt: unsupported file type '.txt'"),
        ("broken.parquet", b"PAR1 not really", "broken.parquet: not a readable parquet file"),
    ],
)
def test_bad_raw_files_are_rejected_with_a_precise_message(name: str, content: bytes, message: str) -> None:
    with pytest.raises(IngestError) as info:
        read_raw_file(f"/raw/{name}", content)
    assert message in str(info.value)


def test_an_unparseable_timestamp_names_file_row_and_field(settings, sample: pd.DataFrame) -> None:  # type: ignore[no-untyped-def]
    frame = sample.assign(event_timestamp="2026-01-01T00:00:00Z")
    frame.loc[4, "event_timestamp"] = "yesterday-ish"
    write_raw(Path(settings.raw_location), "stamps.csv", frame)
    with pytest.raises(IngestError, match=r"stamps.csv: row 6: field 'event_timestamp' is not a date/time: 'yesterday-ish'"):
        ingest.ingest(settings)
    assert not Path(settings.datasets_location).exists()


def test_an_empty_raw_location_is_an_error(settings) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(IngestError, match="no raw files"):
        ingest.ingest(settings)


def test_no_current_dataset_before_the_first_publication(settings) -> None:  # type: ignore[no-untyped-def]
    assert ingest.current_version(settings) is None
    with pytest.raises(IngestError, match="no dataset has been published yet"):
        ingest.snapshot_location(settings)
