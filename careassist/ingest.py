"""Ingestion: raw conversation files become one immutable, PII-free parquet snapshot.

A run reads every CSV, JSONL and parquet file of the raw location (a folder or ``s3://``),
normalises the text (Unicode NFC, whitespace), redacts PII, removes exact and normalised
duplicates, assigns stable ids and stages a snapshot named by its content hash (the dataset
version) with a manifest. Validation (``careassist.validation``) then publishes or quarantines it.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import unicodedata
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

import pandas as pd

from careassist import privacy
from careassist.storage import Location, StorageError
from careassist.taxonomy import GENERAL_KIND, OUT_OF_SCOPE, OUT_OF_SCOPE_KIND

if TYPE_CHECKING:
    from collections.abc import Iterable

    from careassist.settings import Settings

log = logging.getLogger(__name__)

RAW_SUFFIXES = (".csv", ".jsonl", ".parquet")
REQUIRED_COLUMNS = ("text", "label")
OPTIONAL_COLUMNS = ("kind", "register", "provenance", "source", "source_id", "session_id", "event_timestamp")

#: The snapshot's columns, in order; the Feast conversation view reads these.
SNAPSHOT_COLUMNS = (
    "conversation_id",
    "session_id",
    "text",
    "label",
    "kind",
    "register",
    "source",
    "source_id",
    "provenance",
    "source_file",
    "source_row",
    "event_timestamp",
    "dataset_version",
)

#: Rows that carry no timestamp are spread deterministically over this window (reproducible ids
#: and versions: the same input always gives the same snapshot).
DEFAULT_EVENT_EPOCH = datetime(2026, 10, 1, tzinfo=UTC)
DEFAULT_EVENT_WINDOW = timedelta(days=30)

DATA_FILE = "data.parquet"
MANIFEST_FILE = "manifest.json"
REPORT_FILE = "validation.json"
CURRENT_FILE = "current.json"

_CONTROL_TABLE = dict.fromkeys([*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F, 0x200B, 0xFEFF], " ")
_PUNCTUATION_TABLE = dict.fromkeys(
    [c for c in range(0x2070) if unicodedata.category(chr(c)).startswith(("P", "S"))] + [ord("_")]
)


class IngestError(ValueError):
    """A raw source could not be ingested; the message names the file, row and field at fault."""


@dataclass(frozen=True)
class StagedBatch:
    """A snapshot written to staging, waiting for validation."""

    version: str
    uri: str
    rows: int
    manifest: dict[str, Any]


# -- reading raw files -----------------------------------------------------------------------
def _decode(uri: str, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise IngestError(
            f"{uri}: line {line}: not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start});"
            " re-save the file as UTF-8"
        ) from None


def _read_csv(uri: str, data: bytes) -> tuple[pd.DataFrame, int]:
    text = _decode(uri, data)
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_values=[""])
    except pd.errors.EmptyDataError:
        raise IngestError(f"{uri}: the file is empty (no header row)") from None
    except pd.errors.ParserError as exc:
        raise IngestError(f"{uri}: malformed row: {exc}".rstrip()) from None
    return frame, 2  # row 1 is the header


def _read_jsonl(uri: str, data: bytes) -> tuple[pd.DataFrame, int]:
    records = []
    for number, line in enumerate(_decode(uri, data).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise IngestError(f"{uri}: line {number}: malformed JSON ({exc.msg})") from None
        if not isinstance(record, dict):
            raise IngestError(f"{uri}: line {number}: expected a JSON object, got {type(record).__name__}")
        records.append(record)
    if not records:
        raise IngestError(f"{uri}: the file is empty (no JSON lines)")
    return pd.DataFrame.from_records(records), 1


def _read_parquet(uri: str, data: bytes) -> tuple[pd.DataFrame, int]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        frame = pq.read_table(io.BytesIO(data)).to_pandas()
    except (pa.ArrowInvalid, OSError) as exc:
        raise IngestError(f"{uri}: not a readable parquet file ({exc})") from None
    return frame, 0


_READERS = {".csv": _read_csv, ".jsonl": _read_jsonl, ".parquet": _read_parquet}


def read_raw_file(uri: str, data: bytes) -> pd.DataFrame:
    """Parse one raw file into the raw schema, with ``source_file``/``source_row`` for lineage."""
    suffix = PurePosixPath(uri).suffix.lower()
    if suffix not in _READERS:
        raise IngestError(f"{uri}: unsupported file type {suffix!r}; use one of {', '.join(RAW_SUFFIXES)}")
    if not data.strip():
        raise IngestError(f"{uri}: the file is empty")
    frame, first_row = _READERS[suffix](uri, data)
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise IngestError(
            f"{uri}: missing required column(s) {', '.join(missing)}; found {', '.join(frame.columns) or 'none'}"
        )
    if frame.empty:
        raise IngestError(f"{uri}: the file has a header but no rows")
    for column in ("text", "label"):
        bad = frame[column].map(lambda v: v is not None and not isinstance(v, str) and not pd.isna(v))
        if bad.any():
            row = int(bad.to_numpy().argmax())
            raise IngestError(
                f"{uri}: row {row + first_row}: field {column!r} must be text, got {frame[column].iloc[row]!r}"
            )
    frame = frame[[c for c in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS) if c in frame.columns]].copy()
    frame["source_file"] = PurePosixPath(uri).name
    frame["source_row"] = range(first_row, first_row + len(frame))
    return frame


def read_raw_location(location: Location) -> list[pd.DataFrame]:
    """Read every raw file of a folder or S3 prefix; an empty location is an error."""
    try:
        names = [n for n in location.list_files() if PurePosixPath(n).suffix.lower() in RAW_SUFFIXES]
    except StorageError as exc:
        raise IngestError(str(exc)) from None
    if not names:
        raise IngestError(f"{location.uri}: no raw files ({', '.join(RAW_SUFFIXES)}) found")
    frames = []
    for name in names:
        try:
            data = location.read_bytes(name)
        except (StorageError, FileNotFoundError) as exc:
            raise IngestError(f"{location.path_of(name)}: cannot read: {exc}") from None
        frames.append(read_raw_file(location.path_of(name), data))
    return frames


# -- transforming ----------------------------------------------------------------------------
def normalise_text(texts: pd.Series) -> pd.Series:
    """Unicode NFC, control characters removed, whitespace collapsed and trimmed."""
    return pd.Series(
        [" ".join(unicodedata.normalize("NFC", t).translate(_CONTROL_TABLE).split()) for t in texts.fillna("").astype(str)],
        index=texts.index,
        dtype=object,
    )


def text_key(texts: pd.Series) -> pd.Series:
    """The key under which two messages count as the same: casefolded, no punctuation or spacing."""
    return pd.Series(
        [" ".join(t.casefold().translate(_PUNCTUATION_TABLE).split()) for t in texts],
        index=texts.index,
        dtype=object,
    )


def _stable_id(key: str) -> str:
    return hashlib.blake2b(key.encode("utf-8"), digest_size=8).hexdigest()


def _default_timestamps(keys: pd.Series) -> pd.Series:
    window = int(DEFAULT_EVENT_WINDOW.total_seconds())
    offsets = [int(_stable_id("ts:" + k), 16) % window for k in keys]
    return pd.Series(pd.Timestamp(DEFAULT_EVENT_EPOCH) + pd.to_timedelta(offsets, unit="s"), index=keys.index)


def _parse_timestamps(frame: pd.DataFrame) -> pd.Series:
    raw = frame["event_timestamp"]
    if isinstance(raw.dtype, pd.DatetimeTZDtype):
        return raw.dt.tz_convert("UTC")
    parsed = pd.to_datetime(raw, utc=True, errors="coerce", format="mixed")
    if parsed.notna().sum() == raw.notna().sum():
        return parsed
    bad = parsed.isna() & raw.notna() & (raw.astype(str).str.strip() != "")
    if bad.any():
        row = frame.loc[bad].iloc[0]
        raise IngestError(
            f"{row['source_file']}: row {row['source_row']}: field 'event_timestamp' is not a date/time:"
            f" {row['event_timestamp']!r}"
        )
    return parsed


def _fill_optional(frame: pd.DataFrame) -> pd.DataFrame:
    for column in OPTIONAL_COLUMNS:
        if column not in frame.columns:
            frame[column] = None
    label = frame["label"].fillna("").astype(str).str.strip()
    frame["label"] = label
    default_kind = label.map(lambda value: OUT_OF_SCOPE_KIND if value == OUT_OF_SCOPE else GENERAL_KIND)
    frame["kind"] = frame["kind"].where(frame["kind"].notna() & (frame["kind"] != ""), default_kind)
    frame["source"] = frame["source"].where(
        frame["source"].notna() & (frame["source"] != ""), frame["source_file"].str.rsplit(".", n=1).str[0]
    )
    frame["source_id"] = frame["source_id"].where(
        frame["source_id"].notna() & (frame["source_id"] != ""),
        frame["source_file"] + ":" + frame["source_row"].astype(str),
    )
    for column in ("register", "provenance"):
        frame[column] = frame[column].fillna("").astype(str)
    frame["session_id"] = frame["session_id"].astype("string")
    return frame


def content_version(frame: pd.DataFrame) -> str:
    """The dataset version: a hash of the rows' content, independent of when or where it ran."""
    digest = hashlib.sha256("\x1f".join(frame.columns).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return "ds-" + digest.hexdigest()[:16]


def build_snapshot(frames: Iterable[pd.DataFrame]) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Turn raw frames into the snapshot table and the facts its manifest reports."""
    frame = pd.concat(list(frames), ignore_index=True)
    rows_in = len(frame)
    frame = _fill_optional(frame)
    stamps = _parse_timestamps(frame)
    frame["text"] = normalise_text(frame["text"])
    counts: Counter[str] = Counter()
    frame["text"] = [privacy.redact(t, counts) for t in frame["text"]]

    exact = frame.duplicated(subset=["text"])
    keys = text_key(frame["text"])
    # Among duplicates a crisis label wins: a crisis example is never dropped for a calmer twin.
    order = frame["label"].ne("crisis").astype(int)
    ranked = frame.assign(_key=keys, _rank=order).sort_values(["_rank"], kind="stable")
    conflicts = int((ranked.groupby("_key")["label"].nunique() > 1).sum())
    keep = ~ranked.duplicated(subset=["_key"])
    ranked = ranked.loc[keep].sort_index()

    ranked["conversation_id"] = [_stable_id(k) for k in ranked["_key"]]
    ranked["event_timestamp"] = stamps.loc[ranked.index]
    missing_ts = ranked["event_timestamp"].isna()
    if missing_ts.any():
        ranked.loc[missing_ts, "event_timestamp"] = _default_timestamps(ranked.loc[missing_ts, "_key"])
    ranked["source_row"] = ranked["source_row"].astype("int64")
    snapshot = ranked.sort_values("conversation_id", kind="stable").reset_index(drop=True)
    snapshot = snapshot[[c for c in SNAPSHOT_COLUMNS if c != "dataset_version"]]
    for column in ("conversation_id", "text", "label", "kind", "register", "source", "source_id", "provenance", "source_file"):
        snapshot[column] = snapshot[column].astype(str)
    snapshot["event_timestamp"] = pd.to_datetime(snapshot["event_timestamp"], utc=True).astype("datetime64[us, UTC]")
    facts = {
        "rows_in": rows_in,
        "duplicates_removed": {"exact": int(exact.sum()), "normalised": int(rows_in - len(snapshot) - exact.sum())},
        "label_conflicts_in_duplicates": conflicts,
        "empty_texts": int((keys == "").sum()),
        "pii_redactions": dict(sorted(counts.items())),
    }
    return snapshot, facts


def _manifest(snapshot: pd.DataFrame, version: str, facts: dict[str, Any], inputs: list[str]) -> dict[str, Any]:
    per_source_label = snapshot.groupby(["source", "label"]).size()
    return {
        "dataset_version": version,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "rows": len(snapshot),
        "rows_per_source": {k: int(v) for k, v in snapshot["source"].value_counts().sort_index().items()},
        "rows_per_label": {k: int(v) for k, v in snapshot["label"].value_counts().sort_index().items()},
        "rows_per_source_label": {f"{s}/{lab}": int(n) for (s, lab), n in per_source_label.items()},
        "rows_per_kind": {k: int(v) for k, v in snapshot["kind"].value_counts().sort_index().items()},
        "event_time_range": [
            snapshot["event_timestamp"].min().isoformat(),
            snapshot["event_timestamp"].max().isoformat(),
        ],
        "inputs": inputs,
        "columns": list(snapshot.columns),
        **facts,
    }


def to_parquet_bytes(frame: pd.DataFrame) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), buffer, compression="zstd")
    return buffer.getvalue()


def read_snapshot_frame(location: Location) -> pd.DataFrame:
    """Read the data file of a staged or published snapshot folder."""
    import pyarrow.parquet as pq

    return pq.read_table(io.BytesIO(location.read_bytes(DATA_FILE))).to_pandas()


# -- staging ---------------------------------------------------------------------------------
def datasets(settings: Settings) -> Location:
    return Location(settings.datasets_location, settings)


def stage_snapshot(frames: Iterable[pd.DataFrame], settings: Settings, inputs: list[str]) -> StagedBatch:
    """Build the snapshot and write it to ``staging/<version>``; the manifest is written last."""
    snapshot, facts = build_snapshot(frames)
    version = content_version(snapshot)
    snapshot["dataset_version"] = version
    manifest = _manifest(snapshot, version, facts, inputs)
    root = datasets(settings)
    target = root.child("staging", version)
    published = root.child("snapshots", version)
    if published.exists(MANIFEST_FILE):
        log.info("dataset %s is already published; nothing to stage", version)
        return StagedBatch(version, published.uri, len(snapshot), json.loads(published.read_bytes(MANIFEST_FILE)))
    tmp = root.child("staging", f".{version}.partial") if not target.uri.startswith("s3://") else target
    tmp.delete()
    try:
        tmp.write_bytes(DATA_FILE, to_parquet_bytes(snapshot))
        tmp.write_bytes(MANIFEST_FILE, json.dumps(manifest, indent=2, sort_keys=True).encode())
        if tmp is not target:
            target.delete()
            tmp.move_to(target, last=MANIFEST_FILE)
    except BaseException:
        tmp.delete()
        raise
    log.info("staged dataset %s: %d rows at %s", version, len(snapshot), target.uri)
    return StagedBatch(version, target.uri, len(snapshot), manifest)


def ingest(settings: Settings, *, raw_uri: str | None = None, include_public: bool | None = None) -> StagedBatch:
    """Read the raw location (and the public datasets when asked) and stage a snapshot."""
    location = Location(raw_uri or settings.raw_location, settings)
    frames = read_raw_location(location)
    inputs = sorted(location.path_of(str(f["source_file"].iloc[0])) for f in frames)
    if settings.include_public_data if include_public is None else include_public:
        from careassist.sources import SourceError, read_public_sources

        try:
            public = read_public_sources(settings.shared_data_dir)
        except SourceError as exc:
            raise IngestError(str(exc)) from None
        public["source_file"] = public["source"] + ".public"
        public["source_row"] = range(1, len(public) + 1)
        frames.append(public)
        inputs.append(str(settings.shared_data_dir.resolve()))
    return stage_snapshot(frames, settings, inputs)


def current_version(settings: Settings) -> str | None:
    """The dataset version that is current (the last one that passed validation), if any."""
    root = datasets(settings)
    try:
        return str(json.loads(root.read_bytes(CURRENT_FILE))["dataset_version"])
    except FileNotFoundError:
        return None


def snapshot_location(settings: Settings, version: str | None = None) -> Location:
    """The folder of a published snapshot (the current one by default)."""
    version = version or current_version(settings)
    if version is None:
        raise IngestError(f"{settings.datasets_location}: no dataset has been published yet; run ingestion")
    location = datasets(settings).child("snapshots", version)
    if not location.exists(MANIFEST_FILE):
        raise IngestError(f"{location.uri}: dataset {version} is not published")
    return location
