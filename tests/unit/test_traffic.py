"""Anonymous traffic aggregates: binning, the vocabulary, the SQLite store, the recorder and the service hook."""

from __future__ import annotations

import sqlite3
import time
from collections import Counter
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from careassist import traffic
from careassist.settings import Settings
from careassist.traffic import (
    SQLiteTrafficStore,
    TrafficAggregate,
    TrafficError,
    TrafficRecorder,
    Vocabulary,
    observation,
    read_traffic,
    served_label,
    window_buckets,
)

pytestmark = pytest.mark.unit

#: 2026-11-27 03:15:00 UTC and two hours later.
AT = datetime(2026, 11, 27, 3, 15, tzinfo=UTC).timestamp()
LATER = AT + 2 * 3600
WORDS = Vocabulary(frozenset({"mom", "fell", "bath", "help"}), str.split)


def test_the_served_label_is_what_the_user_was_told() -> None:
    assert served_label("fall_prevention", crisis=True, out_of_scope=False) == "crisis"
    assert served_label("fall_prevention", crisis=False, out_of_scope=True) == "out_of_scope"
    assert served_label("fall_prevention", crisis=False, out_of_scope=False) == "fall_prevention"
    assert served_label("made-up class", crisis=False, out_of_scope=False) == "other"


def test_an_observation_counts_its_label_bins_and_tokens_and_no_text() -> None:
    fields = observation("fall_prevention", 0.95, "mom fell in the bath", WORDS)
    assert fields == {
        # 20 characters: [20, 40); 2 of 5 words unknown ("in", "the"): 0.4, in (0.35, 0.5].
        "requests": 1, "label:fall_prevention": 1, "confidence:9": 1, "message_length:1": 1,
        "oov_rate:5": 1, "tokens": 5, "oov_tokens": 2,
    }
    assert observation("x", 0.05, "a" * 2000, None) == {
        "requests": 1, "label:x": 1, "confidence:0": 1, "message_length:7": 1,
    }
    # Exactly known, nothing unknown: the first oov bin; no words at all: wholly unknown.
    assert observation("x", 1.0, "help mom", WORDS)["oov_rate:0"] == 1
    assert observation("x", 1.0, "   ", WORDS)["oov_rate:6"] == 1


def test_bin_names_follow_the_edges() -> None:
    assert traffic.bin_labels("confidence")[0] == "[0, 0.1)" and traffic.bin_labels("confidence")[-1] == ">= 0.9"
    assert traffic.bin_labels("oov_rate")[:2] == ["0", "(0, 0.05]"]
    for signal, edges in traffic.HISTOGRAMS.items():
        assert len(traffic.bin_labels(signal)) == len(edges) + 1 == len(TrafficAggregate().histogram(signal))


class FakeModel:
    """What the vocabulary reads of a model: the category head's feature step."""

    def __init__(self, features: Any) -> None:
        self.category = SimpleNamespace(named_steps={"features": features})


def test_the_vocabulary_is_the_models_word_vectorizer_with_its_own_tokenizer() -> None:
    from careassist.classifier import text_features, texts_frame

    features = text_features("word").fit(texts_frame(["my mother fell in the bath", "medication at night"]))
    model: Any = FakeModel(features)
    vocabulary = traffic.vocabulary_of(model)
    assert vocabulary is not None and traffic.vocabulary_of(model) is vocabulary  # built once per model
    # Lowercased and accent-stripped as the model reads it; numbers become 0 (too short to be a
    # token); "zorblax" is the one unknown word.
    assert vocabulary.count("My MOTHER fell, Médication zorblax 42!") == (5, 1)


def test_an_aggregate_round_trips_and_refuses_other_bins() -> None:
    aggregate = TrafficAggregate()
    aggregate.observe("fall_prevention", 0.7, "help mom", WORDS)
    again = TrafficAggregate.from_dict(aggregate.to_dict())
    assert again == aggregate and again.labels() == {"fall_prevention": 1} and again.oov_share == 0.0
    other = aggregate.to_dict() | {"edges": {"confidence": [0.5]}}
    with pytest.raises(TrafficError, match="other edges"):
        TrafficAggregate.from_dict(other, source="baseline.json")


def test_a_window_is_the_hours_it_touches() -> None:
    start, end = datetime(2026, 11, 27, 1, 30, tzinfo=UTC), datetime(2026, 11, 27, 4, tzinfo=UTC)
    assert window_buckets(start, end) == ["2026-11-27T01", "2026-11-27T02", "2026-11-27T03"]
    with pytest.raises(TrafficError):
        window_buckets(start.replace(tzinfo=None), end)


def _recorder(settings: Settings, clock: list[float], **kwargs: Any) -> TrafficRecorder:
    return TrafficRecorder(settings, clock=lambda: clock[0], start=False, **kwargs)


def _record(recorder: TrafficRecorder, message: str, *, category: str = "fall_prevention", crisis: bool = False) -> None:
    recorder.record(category=category, crisis=crisis, out_of_scope=False, confidence=0.8, message=message, model=None)


def test_recorders_of_several_workers_add_up_per_hour_in_sqlite(settings: Settings) -> None:
    clock = [AT]
    first, second = _recorder(settings, clock), _recorder(settings, clock)
    for recorder in (first, second, first):
        _record(recorder, "how do I help my mom")
    _record(second, "I want to end it", category="crisis", crisis=True)
    clock[0] = LATER
    _record(first, "later")
    assert first.flush() and second.flush() and first.flush()
    hour = datetime.fromtimestamp(AT, UTC)
    earlier = read_traffic(settings, hour, hour.replace(hour=4))
    assert earlier.requests == 4 and earlier.labels() == {"crisis": 1, "fall_prevention": 3}
    assert read_traffic(settings, hour, datetime.fromtimestamp(LATER + 1, UTC)).requests == 5
    assert (settings.monitoring_dir / traffic.SQLITE_FILE).exists()


def test_no_message_text_reaches_the_store(settings: Settings) -> None:
    recorder = _recorder(settings, [AT])
    _record(recorder, "my zanzibarquartz aunt fell down the stairs")
    assert recorder.flush()
    path = settings.monitoring_dir / traffic.SQLITE_FILE
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT bucket, field, count FROM traffic").fetchall()
    assert rows and all("zanzibar" not in f"{bucket}{name}" for bucket, name, _ in rows)
    assert {name.split(":")[0] for _, name, _ in rows} <= {"requests", "label", "confidence", "message_length"}
    assert all(b"zanzibar" not in p.read_bytes() for p in path.parent.iterdir())


class FlakyStore:
    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.added: Counter[str] = Counter()

    def add(self, buckets: dict[str, dict[str, int]]) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("store down")
        for counts in buckets.values():
            self.added.update(counts)

    def read(self, buckets: Any) -> Counter[str]:
        return self.added


def test_counts_survive_a_failed_flush_and_recording_never_raises(settings: Settings) -> None:
    store = FlakyStore(failures=1)
    recorder = _recorder(settings, [AT], store=store)
    _record(recorder, "one")
    assert recorder.flush() is False and recorder.events["flush_failed"] == 1
    _record(recorder, "two")
    assert recorder.flush() is True and store.added["requests"] == 2
    broken: Any = FakeModel(None)
    recorder.record(category="x", crisis=False, out_of_scope=False, confidence=0.5, message="m", model=broken)
    assert recorder.events["record_failed"] == 1


def test_a_store_down_for_long_keeps_at_most_the_newest_hours(settings: Settings) -> None:
    clock = [AT]
    recorder = _recorder(settings, clock, store=FlakyStore(failures=10_000))
    for hour in range(traffic.MAX_PENDING_HOURS + 3):
        clock[0] = AT + hour * 3600
        _record(recorder, "m")
        recorder.flush()
    assert len(recorder.pending()) == traffic.MAX_PENDING_HOURS and recorder.events["hours_dropped"] == 3


def test_the_background_thread_flushes_on_its_own(settings: Settings) -> None:
    recorder = TrafficRecorder(settings, clock=lambda: AT, flush_seconds=0.05)
    _record(recorder, "hello")
    hour = datetime.fromtimestamp(AT, UTC)
    try:
        deadline = time.monotonic() + 5
        while read_traffic(settings, hour, hour.replace(hour=4)).requests == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        recorder.close()
    assert read_traffic(settings, hour, hour.replace(hour=4)).requests == 1 and not recorder.pending()


def test_the_store_prunes_hours_past_the_retention(tmp_path: Any) -> None:
    store = SQLiteTrafficStore(tmp_path / "t.sqlite", retention_hours=1)
    now = traffic.hour_bucket(time.time())
    store.add({"2000-01-01T00": {"requests": 3}, now: {"requests": 1}})
    assert store.read(["2000-01-01T00"]) == Counter() and store.read([now]) == Counter({"requests": 1})


# -- the service hook ------------------------------------------------------------------------
#: Requests without a session id never touch the session store: any stand-in will do.
NO_SESSIONS = SimpleNamespace()


def test_the_service_counts_every_answer_it_serves_fresh_cached_or_crisis(make_settings: Any) -> None:
    from careassist.access import digest_key
    from careassist.corpus import load_seed_corpus
    from careassist.training import train_assistant
    from serving.app import create_app

    model = train_assistant(load_seed_corpus().groupby("label").head(40), candidates=["tfidf_mnb"]).model
    settings = make_settings(api_key_hashes=digest_key("k"))
    recorder = _recorder(settings, [AT])
    client = create_app(settings, model, sessions=NO_SESSIONS, traffic=recorder).test_client()
    for message in ("How can I help my mother bathe safely?", "How can I help my mother bathe safely?",
                    "I want to kill myself tonight", "my zanzibarquartz dad keeps falling"):
        assert client.post("/v1/assist", json={"message": message}, headers={"X-API-Key": "k"}).status_code == 200
    assert recorder.flush()
    counts = read_traffic(settings, datetime.fromtimestamp(AT, UTC), datetime.fromtimestamp(LATER, UTC))
    assert counts.requests == 4 and counts.labels()["crisis"] == 1
    assert sum(counts.histogram("oov_rate")) == 4 and counts.counts["oov_tokens"] >= 1  # "zanzibarquartz"


def test_a_repeated_message_is_counted_from_memory_by_digest_with_the_same_result() -> None:
    calls: list[str] = []

    def tokenize(text: str) -> list[str]:
        calls.append(text)
        return text.split()

    words = Vocabulary(frozenset({"mom", "fell"}), tokenize)
    words.REMEMBERED = 2
    assert words.count("mom fell in the bath") == (5, 3)
    assert words.count("mom fell in the bath") == (5, 3)
    assert calls == ["mom fell in the bath"]  # the second time from memory
    assert all(isinstance(key, bytes) for key in words.remembered)  # digests, not the text
    words.count("help"), words.count("mom")
    assert len(words.remembered) <= 2  # bounded: the memory starts again when full
    assert words.count("mom fell in the bath") == (5, 3)
