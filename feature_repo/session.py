"""Entity ``session`` and its activity view: computed in batch, kept fresh online by a push source.

Batch rows (one per message, as of that message) come from ``careassist.features``'s batch
transformation; the assistant pushes a new row on every request. No message text is stored.
"""

from __future__ import annotations

from datetime import timedelta

from feast import Entity, FeatureView, Field, FileSource, PushSource, ValueType
from feast.types import Array, Int64, String

session = Entity(
    name="session",
    join_keys=["session_id"],
    value_type=ValueType.STRING,
    description="A conversation session with the assistant (opaque id, 1-128 printable characters).",
)

session_activity_source = FileSource(
    name="session_activity_batch",
    path="session_activity.parquet",
    timestamp_field="event_timestamp",
    description="Session activity as of each message, computed from the conversations.",
)

session_activity_push = PushSource(
    name="session_activity_push",
    batch_source=session_activity_source,
    description="Written by the assistant on every request for online freshness.",
)

session_activity = FeatureView(
    name="session_activity",
    entities=[session],
    # The widest window below: activity older than a week says nothing about the session.
    ttl=timedelta(days=7),
    schema=[
        Field(name="messages_24h", dtype=Int64),
        Field(name="crisis_flags_7d", dtype=Int64),
        Field(name="last_category", dtype=String),
        Field(name="distinct_categories", dtype=Array(String)),
        # Unix seconds (0 = never): lets a push roll the windows forward without the history.
        Field(name="last_message_at", dtype=Int64),
        Field(name="last_crisis_at", dtype=Int64),
    ],
    source=session_activity_push,
    online=True,
    tags={"owner": "assistant"},
)
