"""The feature store on the production profile: Redis online, parquet on S3 (moto), SQL registry."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import boto3
import pandas as pd
import pytest
import redis

from careassist import features
from careassist.features import SessionFeatureClient

pytestmark = pytest.mark.integration

T0 = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def production(production):  # type: ignore[no-untyped-def]
    """The shared production settings, with the Feast registry database created."""
    from careassist.bootstrap import create_databases

    create_databases(production)
    return production


@pytest.fixture
def sessions(redis_url: str):  # type: ignore[no-untyped-def]
    """A unique session-id prefix; the Redis keys that contain it are deleted afterwards."""
    prefix = f"it-{uuid.uuid4().hex[:10]}-"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=f"*{prefix}*".encode(), count=1000):
        client.delete(key)


def snapshot(prefix: str) -> pd.DataFrame:
    offsets = [timedelta(0), timedelta(hours=1), timedelta(hours=2)]
    return pd.DataFrame(
        {
            "conversation_id": ["c1", "c2", "c3"],
            "session_id": [f"{prefix}a", f"{prefix}a", f"{prefix}b"],
            "text": ["I fell on the stairs", "I want to end it all", "Which foods help with diabetes?"],
            "label": ["fall_prevention", "crisis", "nutrition_wellness"],
            "source": "test",
            "kind": ["general", "ideation_explicit", "general"],
            "dataset_version": "ds-it",
            "event_timestamp": pd.to_datetime([T0 + o for o in offsets], utc=True),
        }
    )


def test_apply_write_materialize_read_and_push_in_production(production, sessions: str) -> None:  # type: ignore[no-untyped-def]
    names = features.apply_definitions(production)
    assert "session_context_v1" in names and "assistant_features_v1" in names
    written = features.write_offline_sources(production, snapshot(sessions))
    assert written["conversations"] == f"s3://{production.s3_bucket}/feast/offline/conversations.parquet"
    keys = boto3.client("s3", endpoint_url=production.s3_endpoint_url, region_name="us-east-1").list_objects_v2(
        Bucket=production.s3_bucket, Prefix="feast/offline/"
    )["Contents"]
    assert sorted(k["Key"] for k in keys) == [
        "feast/offline/conversations.parquet",
        "feast/offline/session_activity.parquet",
    ]

    training = features.training_set(production, T0 + timedelta(days=1))
    assert training.rows == 3
    assert training.frame.set_index("conversation_id").loc["c2", "last_category"] == "fall_prevention"

    features.materialize_interval(production, T0 - timedelta(days=1), T0 + timedelta(days=1))
    features.materialize_interval(production, T0 - timedelta(days=1), T0 + timedelta(days=1))
    fast = SessionFeatureClient(production)
    sdk = SessionFeatureClient(production, fast_path=False)
    a = fast.get(f"{sessions}a")
    assert (
        a["messages_24h"] == 2
        and a["crisis_flags_7d"] == 1
        and a["distinct_categories"] == ["crisis", "fall_prevention"]
    )
    assert sdk.get(f"{sessions}a") == a
    assert fast.get(f"{sessions}unknown") == features.SESSION_DEFAULTS and fast.degraded == 0

    assert fast.push(f"{sessions}b", "mental_health", False, T0 + timedelta(hours=3))
    b = fast.get(f"{sessions}b")
    assert b["messages_24h"] == 2 and b["last_category"] == "mental_health"
    assert b["distinct_categories"] == ["mental_health", "nutrition_wellness"]
    assert sdk.get(f"{sessions}b") == b


def test_an_unreachable_redis_gives_defaults_and_counts_degraded(production, sessions: str) -> None:  # type: ignore[no-untyped-def]
    features.apply_definitions(production)
    dead = production.model_copy(update={"redis_url": "redis://127.0.0.1:1/15"})
    for fast_path in (True, False):
        client = SessionFeatureClient(dead, fast_path=fast_path)
        assert client.get(f"{sessions}a") == features.SESSION_DEFAULTS
        assert client.push(f"{sessions}a", "crisis", True, T0) is False
        assert client.degraded == 2 and client.degraded_reasons["online_store"] == 2


def test_an_unreachable_s3_is_a_clear_error_offline(production) -> None:  # type: ignore[no-untyped-def]
    dead = production.model_copy(update={"s3_endpoint_url": "http://127.0.0.1:1"})
    with pytest.raises(features.FeatureStoreError, match="offline source"):
        features.write_offline_sources(dead, snapshot("x-"))
