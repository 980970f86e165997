"""Entity ``conversation`` and the view of labelled messages: the offline source of training sets.

The source names a file inside the offline store location; ``careassist.features`` binds it to
the location of the active profile (a folder or ``s3://``), so no path is written here.
"""

from __future__ import annotations

from datetime import timedelta

from feast import Entity, FeatureView, Field, FileSource, ValueType
from feast.types import String

conversation = Entity(
    name="conversation",
    join_keys=["conversation_id"],
    value_type=ValueType.STRING,
    description="One user message of a published dataset snapshot (stable id from ingestion).",
)

conversations_source = FileSource(
    name="conversations",
    path="conversations.parquet",
    timestamp_field="event_timestamp",
    description="Labelled, PII-free messages of the current snapshot, written by write_offline_sources.",
)

conversation_messages = FeatureView(
    name="conversation_messages",
    entities=[conversation],
    # A message never expires: training joins it at its own event time.
    ttl=timedelta(0),
    schema=[
        Field(name="text", dtype=String),
        Field(name="label", dtype=String),
        Field(name="source", dtype=String),
        # ordinary, crisis kind or hard-negative kind: the evaluation's false-positive groups
        Field(name="kind", dtype=String),
        Field(name="dataset_version", dtype=String),
    ],
    source=conversations_source,
    # Message text is for training only; it is never copied to the online store.
    online=False,
    tags={"owner": "data", "pii": "redacted"},
)
