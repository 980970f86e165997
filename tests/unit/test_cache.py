"""The answer cache: keys, the in-process LRU, crisis safety, and the outage paths (no Redis needed)."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from careassist import cache
from careassist.assistant import SessionContext
from careassist.cache import (
    LRUAnswerCache,
    RedisAnswerCache,
    SharedFileAnswerCache,
    TieredAnswerCache,
    answer_context,
    answer_key,
    make_cache,
    normalise_message,
    replay_hit_rate,
)
from careassist.content import normalise_for_matching
from careassist.text import strip_markup

pytestmark = pytest.mark.unit

ANSWER = {"category": "adl_mobility", "confidence": 0.91, "crisis": False, "response": {"title": "Getting up"}}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that accepts connections and never answers: every read times out."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield int(sock.getsockname()[1])


# -- keys -------------------------------------------------------------------------------------
def test_surface_variants_share_a_key() -> None:
    variants = [
        "My dad can't get out of bed",
        "  my DAD can't\tget out of\n\nbed  ",
        "MY DAD CAN'T GET OUT OF BED",
        "My dad <b>can't</b> get out of bed<script>alert(1)</script>",
    ]
    assert len({answer_key(v, "7") for v in variants}) == 1
    assert normalise_message(variants[1]) == "my dad can't get out of bed"


def test_key_never_merges_texts_the_assistant_reads_differently() -> None:
    # The key is the assistant's own reading: str.casefold would merge these, the model and the
    # content base (str.lower) do not.
    assert answer_key("Straße sign", "7") != answer_key("strasse sign", "7")
    for text in ["Straße  SIGN", "ﬁx my\tWalker", "İstanbul clinic", "ΣΊΣΥΦΟΣ", " a\u00a0b ", "he<i>lp</i> me"]:
        assert normalise_message(text) == normalise_for_matching(strip_markup(text))
    assert answer_key("he<i>lp</i>", "7") != answer_key("help", "7")
    assert answer_key("help with bathing", "7") != answer_key("help with bathing.", "7")


def test_key_changes_with_model_version_and_session_context() -> None:
    base = answer_key("how do I prevent falls", "7", answer_context(None))
    assert answer_key("how do I prevent falls", "8", answer_context(None)) != base
    escalated = answer_context(SessionContext(crisis_flags_7d=1))
    assert escalated == (True,) and answer_context(SessionContext()) == (False,)
    assert answer_key("how do I prevent falls", "7", escalated) != base
    assert answer_key("how do I prevent falls", "7", answer_context(SessionContext(messages_24h=9))) == base


def test_key_holds_no_message_text_and_has_the_prefix() -> None:
    message = "my email is jane.doe@example.com and I need help walking"
    key = answer_key(message, "7", prefix="t:answer")
    prefix, _, digest = key.rpartition(":")
    assert prefix == "t:answer" and len(digest) == 64 and int(digest, 16) >= 0
    for word in ("jane", "example", "help", "walking"):
        assert word not in key


def test_key_parts_cannot_run_together() -> None:
    assert answer_key("b", "7a") != answer_key("ab", "7")
    assert answer_key("x", "7", ("a", "b")) != answer_key("x", "7", ("a,b",))


def test_key_needs_a_model_version_and_hashes_lone_surrogates() -> None:
    with pytest.raises(ValueError, match="model version"):
        answer_key("hello", "")
    assert answer_key("bad \ud800 text", "7").startswith(cache.DEFAULT_PREFIX)


# -- the in-process LRU ---------------------------------------------------------------------------
def test_round_trip_gives_a_fresh_copy_without_request_fields() -> None:
    lru = LRUAnswerCache(10, 60)
    assert lru.get("k") is None
    assert lru.set("k", {**ANSWER, "request_id": "abc", "cached": False})
    first = lru.get("k")
    assert first == ANSWER
    assert first is not None
    first["category"] = "changed"
    assert lru.get("k") == ANSWER
    assert lru.stats.snapshot() == {"hits": 2, "misses": 1, "sets": 1, "evictions": 0, "errors": {}, "bypass": {}}


def test_least_recently_used_entry_is_evicted() -> None:
    lru = LRUAnswerCache(2, 60)
    lru.set("a", ANSWER)
    lru.set("b", ANSWER)
    assert lru.get("a") is not None  # "a" is now the most recent
    lru.set("c", ANSWER)
    assert lru.get("b") is None
    assert lru.get("a") is not None and lru.get("c") is not None
    assert len(lru) == 2 and lru.stats.evictions == 1


def test_entries_expire_after_the_ttl() -> None:
    clock = FakeClock()
    lru = LRUAnswerCache(10, 30, clock=clock)
    lru.set("k", ANSWER)
    clock.now += 29.9
    assert lru.get("k") == ANSWER
    clock.now += 0.2
    assert lru.get("k") is None
    assert len(lru) == 0


def test_concurrent_use_keeps_the_size_bound() -> None:
    lru = LRUAnswerCache(50, 60)
    errors: list[Exception] = []

    def work(worker: int) -> None:
        try:
            for i in range(500):
                key = f"k{(worker * 31 + i) % 120}"
                lru.set(key, {**ANSWER, "confidence": i})
                lru.get(key)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(lru) == 50
    stats = lru.stats.snapshot()
    assert stats["sets"] == 4000 and stats["hits"] + stats["misses"] == 4000


# -- crisis safety ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ({**ANSWER, "crisis": True, "category": "crisis"}, "crisis"),
        ({**ANSWER, "crisis": True}, "crisis"),
        ({**ANSWER, "category": "crisis"}, "crisis"),
        ({**ANSWER, "crisis": 1}, "crisis"),
        ({**ANSWER, "crisis": "false"}, "crisis"),
        ({k: v for k, v in ANSWER.items() if k != "crisis"}, "no_crisis_flag"),
    ],
)
def test_crisis_answers_are_never_stored(answer: dict[str, object], reason: str) -> None:
    lru = LRUAnswerCache(10, 60)
    assert lru.set("k", answer) is False
    assert len(lru) == 0 and lru.get("k") is None
    assert lru.stats.bypass == {reason: 1}


def test_a_crisis_answer_found_in_the_store_is_not_served() -> None:
    lru = LRUAnswerCache(10, 60)
    lru._write("k", '{"crisis": true, "category": "crisis"}')  # as another writer could have
    assert lru.get("k") is None
    assert lru.stats.bypass == {"crisis": 1} and lru.stats.hits == 0


def test_bad_values_are_counted_never_raised() -> None:
    lru = LRUAnswerCache(10, 60)
    assert lru.set("k", {**ANSWER, "when": object()}) is False
    assert lru.set("k", {**ANSWER, "confidence": float("nan")}) is False
    lru._write("j", "{not json")
    assert lru.get("j") is None
    assert lru.stats.errors == {"serialise": 2, "decode": 1}


# -- Redis outages (loopback ports, no server) ---------------------------------------------------
def test_redis_refusing_connections_degrades_quietly(closed_port: int) -> None:
    import redis  # noqa: F401 - imported before the clock starts: the bound is on the outage, not on an import

    redis_cache = RedisAnswerCache(f"redis://127.0.0.1:{closed_port}/15", 60, cooldown_seconds=60)
    began = time.perf_counter()
    assert redis_cache.get("k") is None
    assert redis_cache.set("k", ANSWER) is False
    for _ in range(50):
        assert redis_cache.get("k") is None
    assert time.perf_counter() - began < 1.0
    assert redis_cache.stats.errors == {"connection": 1, "circuit_open": 51}
    assert redis_cache.stats.misses == 0 and redis_cache.status() == "degraded"


def test_redis_that_never_answers_times_out_quickly(silent_port: int) -> None:
    redis_cache = RedisAnswerCache(f"redis://127.0.0.1:{silent_port}/15", 60, cooldown_seconds=0.05)
    began = time.perf_counter()
    assert redis_cache.get("k") is None
    first = time.perf_counter() - began
    assert first < 0.5
    time.sleep(0.06)  # the breaker lets the next call try again
    assert redis_cache.set("k", ANSWER) is False
    assert redis_cache.stats.errors == {"timeout": 2}
    assert redis_cache.status() == "degraded"


def test_an_unexpected_client_error_is_counted() -> None:
    redis_cache = RedisAnswerCache("redis://127.0.0.1:1/15", 60)

    class Broken:
        def get(self, key: str) -> bytes:
            raise RuntimeError("bug")

    redis_cache._client = Broken()  # type: ignore[assignment]
    assert redis_cache.get("k") is None
    assert redis_cache.stats.errors == {"unexpected": 1}


def test_make_cache_picks_the_backend_by_profile(make_settings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(cache_max_entries=7, cache_ttl_seconds=9)
    embedded = make_cache(settings)
    # Embedded: each worker's LRU in front of the one file they share.
    assert isinstance(embedded, TieredAnswerCache) and embedded.backend == "memory+file"
    assert embedded.near.max_entries == embedded.shared.max_entries == 7 and embedded.ttl_seconds == 9
    assert embedded.shared.path == settings.root / "serving" / "answer-cache.sqlite"
    assert embedded.status() == "ok"
    alone = make_cache(make_settings(cache_backend="memory"))
    assert isinstance(alone, LRUAnswerCache)
    production = make_cache(
        make_settings(
            profile="production", database_url="postgresql://db.invalid:5432", redis_url="redis://127.0.0.1:1/15"
        ),
        prefix="t",
    )
    assert isinstance(production, RedisAnswerCache) and production.prefix == "t"
    assert production._client is None  # nothing connected at construction
    # One cache shared by every worker on the embedded profile too, when asked for; a LRU in production.
    shared = make_cache(make_settings(cache_backend="redis", redis_url="redis://127.0.0.1:1/15"))
    assert isinstance(shared, RedisAnswerCache)
    local = make_cache(
        make_settings(
            profile="production", database_url="postgresql://db.invalid:5432", redis_url="redis://127.0.0.1:1/15",
            cache_backend="memory",
        )
    )
    assert isinstance(local, LRUAnswerCache)


def test_a_redis_cache_needs_a_url_and_the_backend_a_known_name(make_settings) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="CAREASSIST_CACHE_BACKEND=redis needs CAREASSIST_REDIS_URL"):
        make_settings(cache_backend="redis")
    with pytest.raises(ValueError, match="CAREASSIST_CACHE_BACKEND='disk': use one of auto, memory, redis"):
        make_settings(cache_backend="disk")


def test_importing_the_service_modules_does_not_import_redis() -> None:
    code = (
        "import sys, careassist.cache, careassist.access, careassist.audit, careassist.logs;"
        "print('redis' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert result.stdout.strip() == "False"


# -- replay -------------------------------------------------------------------------------------
def test_replay_counts_hits_and_keeps_crises_out() -> None:
    stream = ["How do I bathe my mom?", "how do i bathe  my mom?", "meal ideas", "I want to kill myself", "MEAL IDEAS"]
    result = replay_hit_rate(LRUAnswerCache(100, 60), stream)
    assert (result.queries, result.hits, result.misses, result.bypassed) == (5, 2, 2, 1)
    assert result.hit_rate == pytest.approx(0.4)


def test_replay_does_not_store_what_the_model_flags() -> None:
    lru = LRUAnswerCache(100, 60)
    result = replay_hit_rate(lru, ["a", "a", "b"], answer=lambda m: {"crisis": m == "a"}, is_crisis=lambda _m: False)
    assert (result.hits, result.misses, result.bypassed) == (0, 1, 2)
    assert len(lru) == 1
    assert replay_hit_rate(lru, []).hit_rate == 0.0


# -- the shared file and the two tiers (embedded profile) ----------------------------------------
def test_the_shared_file_is_one_cache_for_every_worker_that_opens_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    clock = FakeClock()
    path = tmp_path / "serving" / "answers.sqlite"
    one = SharedFileAnswerCache(path, 100, 30, clock=clock)
    other = SharedFileAnswerCache(path, 100, 30, clock=clock)  # another worker: its own connection
    key = one.key("My dad can't get up", "3")
    assert other.get(key) is None
    assert one.set(key, ANSWER)
    assert one.flush() == 1  # written behind the request; a thread does this FLUSH_SECONDS later
    assert other.get(key) == ANSWER and other.stats.hits == 1
    # Crisis answers are refused here as everywhere.
    assert not one.set(one.key("crisis", "3"), ANSWER | {"crisis": True}) and one.stats.bypass == {"crisis": 1}
    clock.now += 30
    assert other.get(key) is None and len(other) == 0  # expired


def test_the_shared_file_keeps_max_entries_dropping_the_soonest_to_expire(tmp_path) -> None:  # type: ignore[no-untyped-def]
    clock = FakeClock()
    shared = SharedFileAnswerCache(tmp_path / "answers.sqlite", 3, 60, clock=clock)
    shared.TRIM_EVERY = 2
    keys = [shared.key(f"message {n}", "1") for n in range(6)]
    for key in keys:
        clock.now += 1
        shared.set(key, ANSWER)
        shared.flush()
    assert len(shared) == 3 and shared.stats.evictions == 3
    assert [shared.get(key) is not None for key in keys] == [False, False, False, True, True, True]


def test_a_broken_shared_file_is_a_counted_failure_and_the_lru_still_serves(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "answers.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    broken = SharedFileAnswerCache(path, 10, 60)
    assert broken.get("k") is None and broken.stats.errors == {"file": 1}
    assert broken.set("k", ANSWER) and broken.flush() == 0 and broken.stats.errors == {"file": 2}
    assert broken.status() == "degraded"

    tiered = TieredAnswerCache(LRUAnswerCache(10, 60), SharedFileAnswerCache(path, 10, 60))
    key = tiered.key("how do I help my mother stand", "2")
    assert tiered.set(key, ANSWER) and tiered.get(key) == ANSWER  # from the LRU
    assert tiered.stats.hits == 1 and tiered.stats.errors == {}
    assert tiered.get(tiered.key("another message", "2")) is None and tiered.stats.errors == {"file": 1}
    assert tiered.shared.flush() == 0 and tiered.shared.stats.errors == {"file": 1}  # the queued write failed


def test_a_hit_in_the_shared_file_fills_the_lru_for_the_time_it_has_left(tmp_path) -> None:  # type: ignore[no-untyped-def]
    wall, mono = FakeClock(), FakeClock()
    path = tmp_path / "answers.sqlite"
    first = TieredAnswerCache(LRUAnswerCache(10, 60, clock=mono), SharedFileAnswerCache(path, 10, 60, clock=wall))
    second = TieredAnswerCache(LRUAnswerCache(10, 60, clock=mono), SharedFileAnswerCache(path, 10, 60, clock=wall))
    key = first.key("my husband forgets his pills", "4")
    first.set(key, ANSWER)
    first.shared.flush()
    wall.now += 45
    mono.now += 45
    assert len(second.near) == 0
    assert second.get(key) == ANSWER and len(second.near) == 1  # answered by the first worker
    wall.now += 10
    mono.now += 10
    assert second.get(key) == ANSWER  # from its LRU now
    mono.now += 5
    assert second.near._read(key) is None  # the LRU copy ends when the file's entry does (60 s)


def test_answers_are_written_behind_the_request_by_a_thread_that_stops_when_idle(tmp_path) -> None:  # type: ignore[no-untyped-def]
    writer = SharedFileAnswerCache(tmp_path / "answers.sqlite", 100, 60)
    reader = SharedFileAnswerCache(tmp_path / "answers.sqlite", 100, 60)
    keys = [writer.key(f"message {n}", "1") for n in range(20)]
    for key in keys:
        writer.set(key, ANSWER)
    deadline = time.monotonic() + 10
    while writer._flusher is not None or reader.get(keys[-1]) is None:
        assert time.monotonic() < deadline, "the queued answers were never written"
        time.sleep(0.01)
    assert all(reader.get(key) == ANSWER for key in keys) and len(reader) == 20
