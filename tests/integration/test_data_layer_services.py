"""The data layer against real services on loopback: moto's S3 server, PostgreSQL and Redis."""

from __future__ import annotations

import json
import socket

import boto3
import pandas as pd
import pytest

from careassist import bootstrap, ingest, validation
from careassist.corpus import export_seed_corpus, load_seed_corpus
from careassist.ingest import IngestError
from careassist.storage import Location
from careassist.validation import ValidationFailed

pytestmark = pytest.mark.integration


def s3_keys(settings, prefix: str) -> list[str]:  # type: ignore[no-untyped-def]
    client = boto3.client("s3", endpoint_url=settings.s3_endpoint_url, region_name="us-east-1")
    return sorted(o["Key"] for o in client.list_objects_v2(Bucket=settings.s3_bucket, Prefix=prefix).get("Contents", []))


def test_initialise_creates_the_databases_and_seeds_raw_data_in_s3(production) -> None:  # type: ignore[no-untyped-def]
    done = bootstrap.initialise(production)
    assert sorted(done["databases_created"]) == sorted(
        [production.airflow_database, production.mlflow_database, production.feast_database]
    )
    assert done["seeded_raw"] == f"s3://{production.s3_bucket}/raw/seed_corpus.csv" or done["seeded_raw"].endswith(
        "seed_corpus.csv"
    )
    again = bootstrap.initialise(production)
    assert again["databases_created"] == [] and "seeded_raw" not in again
    assert bootstrap.check_services(production) == {"postgresql": "ok", "redis": "ok", "s3": "ok"}


def test_ingest_from_s3_and_publish_to_s3(production) -> None:  # type: ignore[no-untyped-def]
    raw = Location(f"s3://{production.s3_bucket}/incoming", production)
    sample = load_seed_corpus().groupby("label").head(4)
    raw.write_bytes("batch-1.jsonl", sample.to_json(orient="records", lines=True).encode())
    batch = ingest.ingest(production, raw_uri=raw.uri)
    assert batch.uri == f"s3://{production.s3_bucket}/datasets/staging/{batch.version}"
    report = validation.validate_staged(batch, production)
    assert report.success
    assert ingest.current_version(production) == batch.version
    assert s3_keys(production, "datasets/snapshots/") == [
        f"datasets/snapshots/{batch.version}/{name}" for name in ("data.parquet", "manifest.json", "validation.json")
    ]
    assert s3_keys(production, "datasets/staging/") == []
    frame = ingest.read_snapshot_frame(ingest.snapshot_location(production))
    assert len(frame) == len(sample) and set(frame["dataset_version"]) == {batch.version}


def test_a_bad_batch_in_s3_is_quarantined_in_s3(production) -> None:  # type: ignore[no-untyped-def]
    raw = Location(f"s3://{production.s3_bucket}/incoming", production)
    bad = load_seed_corpus().groupby("label").head(3).assign(label="unknown_label")
    raw.write_bytes("bad.csv", bad.to_csv(index=False).encode())
    with pytest.raises(ValidationFailed, match=r"36 of 36 values unexpected\n      e.g. bad.csv row \d+ field 'label': 'unknown_label'"):
        validation.validate_staged(ingest.ingest(production, raw_uri=raw.uri), production)
    keys = s3_keys(production, "datasets/")
    assert keys and all(k.startswith("datasets/quarantine/") for k in keys)
    assert ingest.current_version(production) is None


def test_the_seed_corpus_exports_to_s3_and_round_trips(production) -> None:  # type: ignore[no-untyped-def]
    uri = export_seed_corpus(Location(f"s3://{production.s3_bucket}/raw", production))
    data = Location(f"s3://{production.s3_bucket}/raw", production).read_bytes("seed_corpus.csv")
    assert uri.endswith("seed_corpus.csv") and len(pd.read_csv(pd.io.common.BytesIO(data))) == len(load_seed_corpus())


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_s3_endpoint_is_a_clear_error_and_nothing_is_written(make_settings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(s3_endpoint_url=f"http://127.0.0.1:{_closed_port()}", datasets_uri="s3://nowhere/datasets")
    with pytest.raises(IngestError) as info:
        ingest.ingest(settings, raw_uri="s3://nowhere/raw")
    assert "cannot reach the S3 endpoint for s3://nowhere/raw" in str(info.value)
    assert not (settings.root / "datasets").exists()


def test_unreachable_services_are_reported_not_raised(make_settings) -> None:  # type: ignore[no-untyped-def]
    port = _closed_port()
    settings = make_settings(
        profile="production",
        database_url=f"postgresql://postgres@127.0.0.1:{port}",
        redis_url=f"redis://127.0.0.1:{port}/0",
        s3_endpoint_url=f"http://127.0.0.1:{port}",
    )
    status = bootstrap.check_services(settings)
    assert set(status) == {"postgresql", "redis", "s3"}
    assert all(value.startswith("unreachable") for value in status.values()), json.dumps(status)
