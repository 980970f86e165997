"""The feature store on the embedded profile: SQLite online, parquet offline, file registry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from careassist import features
from careassist.features import FeatureDataError, InvalidInterval, InvalidSessionId, SessionFeatureClient

pytestmark = pytest.mark.unit

T0 = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)


def snapshot(rows: list[tuple[str, str | None, str, str, timedelta]]) -> pd.DataFrame:
    """A snapshot frame of (conversation_id, session_id, text, label, offset from T0) rows."""
    return pd.DataFrame(
        {
            "conversation_id": [r[0] for r in rows],
            "session_id": pd.Series([r[1] for r in rows], dtype="string"),
            "text": [r[2] for r in rows],
            "label": [r[3] for r in rows],
            "kind": "general",
            "source": "test",
            "dataset_version": "ds-test",
            "event_timestamp": pd.to_datetime([T0 + r[4] for r in rows], utc=True),
        }
    )


BASE_ROWS = [
    ("c1", "s1", "I fell twice on the stairs", "fall_prevention", timedelta(0)),
    ("c2", "s1", "I don't want to live anymore", "crisis", timedelta(hours=1)),
    ("c3", "s1", "What can I eat with diabetes 2?", "nutrition_wellness", timedelta(hours=2)),
    ("c4", "s2", "My mother forgets her pills", "medication_management", timedelta(hours=3)),
    ("c5", "s2", "Is she safe alone?", "senior_care", timedelta(days=8)),
    ("c6", None, "no session here", "disabilities", timedelta(hours=4)),
]


@pytest.fixture
def store_settings(make_settings):  # type: ignore[no-untyped-def]
    settings = make_settings()
    features.apply_definitions(settings)
    features.write_offline_sources(settings, snapshot(BASE_ROWS))
    return settings


def by_id(frame: pd.DataFrame) -> dict[str, dict[str, object]]:
    return {row["conversation_id"]: row for row in frame.to_dict("records")}


def test_config_is_filled_from_settings_and_the_production_template(make_settings) -> None:  # type: ignore[no-untyped-def]
    embedded = make_settings()
    config = features.repo_config(embedded)
    assert config.online_store.path == embedded.feast_online_path
    assert config.registry.path == embedded.feast_registry_uri
    production = make_settings(
        profile="production", database_url="postgresql://u@db:5432", redis_url="redis://:pw@cache:6380/3"
    )
    config = features.repo_config(production)
    assert config.registry.registry_type == "sql" and config.registry.path == production.feast_registry_uri
    assert config.online_store.connection_string.startswith("cache:6380,db=3,password=pw")


def test_session_activity_is_computed_as_of_each_message() -> None:
    rows = [
        ("a", "s", "x", "crisis", timedelta(0)),
        ("b", "s", "x", "fall_prevention", timedelta(hours=23)),
        ("c", "s", "x", "fall_prevention", timedelta(hours=25)),
        ("d", "s", "x", "senior_care", timedelta(days=8)),
    ]
    activity = features.session_activity_frame(features.conversations_frame(snapshot(rows)))
    assert activity["messages_24h"].tolist() == [1, 2, 2, 1]
    assert activity["crisis_flags_7d"].tolist() == [1, 1, 1, 0]
    assert activity["last_category"].tolist() == ["crisis", "fall_prevention", "fall_prevention", "senior_care"]
    assert activity["distinct_categories"].iloc[2] == ["crisis", "fall_prevention"]
    assert activity["last_crisis_at"].nunique() == 1 and activity["last_crisis_at"].iloc[0] == int(T0.timestamp())


def test_no_leakage_a_value_written_after_a_message_is_never_joined_to_it(store_settings) -> None:  # type: ignore[no-untyped-def]
    rows = by_id(features.training_set(store_settings, T0 + timedelta(days=30)).frame)
    # c2 is itself a crisis: its own flag and label are written at its time, so must not be seen.
    assert rows["c2"]["crisis_flags_7d"] == 0
    assert rows["c2"]["last_category"] == "fall_prevention"
    assert rows["c2"]["messages_24h"] == 1
    assert rows["c2"]["label"] == "crisis"
    assert rows["c3"]["crisis_flags_7d"] == 1 and rows["c3"]["messages_24h"] == 2
    assert rows["c3"]["distinct_categories"] == ["crisis", "fall_prevention"]
    assert rows["c1"]["last_category"] == "" and rows["c1"]["messages_24h"] == 0


def test_rows_the_file_store_drops_outside_the_ttl_are_kept_with_defaults(store_settings) -> None:  # type: ignore[no-untyped-def]
    frame = features.training_set(store_settings, T0 + timedelta(days=30)).frame
    assert sorted(frame["conversation_id"]) == ["c1", "c2", "c3", "c4", "c5", "c6"]
    rows = by_id(frame)
    # c5 comes 8 days after c4: the session context (TTL 7 days) has expired.
    assert rows["c5"]["last_category"] == "" and rows["c5"]["messages_24h"] == 0
    assert rows["c1"]["word_count"] == 6 and rows["c3"]["has_digits"] and rows["c5"]["question_marks"] == 1
    assert rows["c6"]["label"] == "disabilities"


def test_the_same_cutoff_gives_the_same_rows_and_hash_even_after_new_data(store_settings) -> None:  # type: ignore[no-untyped-def]
    cutoff = T0 + timedelta(hours=5)
    first = features.training_set(store_settings, cutoff)
    assert first.rows == 5 and "c5" not in set(first.frame["conversation_id"])
    later = [*BASE_ROWS, ("c7", "s1", "and now at night?", "fall_prevention", timedelta(days=9))]
    features.write_offline_sources(store_settings, snapshot(later))
    again = features.training_set(store_settings, cutoff)
    assert again.sha256 == first.sha256
    pd.testing.assert_frame_equal(again.frame, first.frame)
    assert features.training_set(store_settings, T0 + timedelta(days=30)).sha256 != first.sha256


def test_a_cutoff_without_time_zone_is_refused(store_settings) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInterval, match="no time zone"):
        features.training_set(store_settings, datetime(2026, 10, 2))


def test_schema_drift_in_a_snapshot_is_a_clear_error(make_settings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings()
    with pytest.raises(FeatureDataError, match="lacks column.*session_id"):
        features.write_offline_sources(settings, snapshot(BASE_ROWS).drop(columns=["session_id"]))
    naive = snapshot(BASE_ROWS).assign(event_timestamp=lambda f: f["event_timestamp"].dt.tz_localize(None))
    with pytest.raises(FeatureDataError, match="tz-aware"):
        features.write_offline_sources(settings, naive)


def test_materializing_the_same_interval_twice_gives_the_same_online_values(store_settings) -> None:  # type: ignore[no-untyped-def]
    start, end = T0 - timedelta(days=1), T0 + timedelta(days=1)
    result = features.materialize_interval(store_settings, start, end)
    assert result.views == ("session_activity",)
    client = SessionFeatureClient(store_settings)
    first = {s: client.read(s) for s in ("s1", "s2")}
    assert first["s1"]["messages_24h"] == 3 and first["s1"]["last_category"] == "nutrition_wellness"
    features.materialize_interval(store_settings, start, end)
    assert {s: client.read(s) for s in ("s1", "s2")} == first
    # c5 (8 days later) lies outside the interval: only a later interval brings it online.
    assert first["s2"]["last_category"] == "medication_management"
    features.materialize_interval(store_settings, end, T0 + timedelta(days=30))
    assert client.read("s2")["last_category"] == "senior_care"


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (T0, T0, "empty interval"),
        (T0 + timedelta(hours=1), T0, "not before"),
        (datetime(2026, 10, 1), T0, "no time zone"),
    ],
)
def test_a_bad_interval_is_refused_before_anything_is_written(store_settings, start, end, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInterval, match=message):
        features.materialize_interval(store_settings, start, end)
    assert SessionFeatureClient(store_settings).read("s1") == features.SESSION_DEFAULTS


def test_an_unknown_session_gets_defaults_without_a_degraded_count(store_settings) -> None:  # type: ignore[no-untyped-def]
    client = SessionFeatureClient(store_settings)
    assert client.get("never-seen") == features.SESSION_DEFAULTS
    assert client.degraded == 0


@pytest.mark.parametrize("session_id", ["", "has space", "tab\there", "x" * 129, "nul\x00", "line\n"])
def test_a_malformed_session_id_raises_offline_and_degrades_online(store_settings, session_id: str) -> None:  # type: ignore[no-untyped-def]
    client = SessionFeatureClient(store_settings)
    with pytest.raises(InvalidSessionId):
        client.read(session_id)
    assert client.get(session_id) == features.SESSION_DEFAULTS
    assert client.degraded == 1 and client.degraded_reasons["invalid_session_id"] == 1


def test_a_failing_online_store_gives_defaults_and_a_count(store_settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    client = SessionFeatureClient(store_settings)

    def broken(**_: object) -> None:
        raise ConnectionError("online store down")

    monkeypatch.setattr(client.store, "get_online_features", broken)
    assert client.get("s1") == features.SESSION_DEFAULTS
    assert client.degraded_reasons == {"online_store": 1}
    assert client.push("s1", "crisis", True, T0) is False and client.degraded == 2


def test_a_push_makes_the_activity_fresh_online_without_text(store_settings) -> None:  # type: ignore[no-untyped-def]
    features.materialize_interval(store_settings, T0 - timedelta(days=1), T0 + timedelta(days=1))
    client = SessionFeatureClient(store_settings)
    assert client.push("s1", "mental_health", True, T0 + timedelta(hours=3))
    fresh = client.get("s1")
    assert fresh["messages_24h"] == 4 and fresh["crisis_flags_7d"] == 2
    assert fresh["last_category"] == "mental_health"
    assert fresh["distinct_categories"] == ["crisis", "fall_prevention", "mental_health", "nutrition_wellness"]
    assert not any("text" in name for name in fresh)
    assert client.push("bad id", "crisis", True, T0) is False and client.degraded == 1


def test_a_push_after_a_quiet_day_restarts_the_windows() -> None:
    current = {
        **features.SESSION_DEFAULTS,
        "messages_24h": 5,
        "crisis_flags_7d": 2,
        "distinct_categories": ["crisis"],
        "last_message_at": int(T0.timestamp()),
        "last_crisis_at": int(T0.timestamp()),
    }
    later = features.next_activity(current, "nutrition_wellness", False, T0 + timedelta(days=2))
    assert later["messages_24h"] == 1 and later["crisis_flags_7d"] == 2
    much_later = features.next_activity(current, "crisis", True, T0 + timedelta(days=8))
    assert much_later["crisis_flags_7d"] == 1 and much_later["last_crisis_at"] == int(
        (T0 + timedelta(days=8)).timestamp()
    )
