"""The answer cache and the rate limiter against the real Redis (db 15), and with Redis unreachable."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import redis

from careassist.access import RateDecision, RedisRateLimiter, make_rate_limiter
from careassist.cache import RedisAnswerCache, answer_key, make_cache

pytestmark = pytest.mark.integration

ANSWER = {"category": "nutrition_wellness", "confidence": 0.8, "crisis": False, "response": {"title": "Eating well"}}


@pytest.fixture
def raw(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


def stored(client: redis.Redis, key: str) -> dict[str, object]:
    """The JSON value Redis holds under ``key``."""
    value = client.get(key)
    assert isinstance(value, bytes), f"no value under {key}"
    return dict(json.loads(value))


@pytest.fixture
def production(make_settings, redis_url: str):  # type: ignore[no-untyped-def]
    return make_settings(profile="production", database_url="postgresql://postgres@127.0.0.1:5432", redis_url=redis_url)


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"redis://127.0.0.1:{sock.getsockname()[1]}/15"


# -- cache --------------------------------------------------------------------------------------
def test_answers_round_trip_with_the_ttl_and_no_text_in_redis(production, prefix: str, raw: redis.Redis) -> None:  # type: ignore[no-untyped-def]
    cache = make_cache(production, prefix=f"{prefix}:answer")
    assert isinstance(cache, RedisAnswerCache) and cache.status() == "ok"
    message = "What should my mother with diabetes eat for breakfast?"
    key = answer_key(message, "7", (False,), prefix=f"{prefix}:answer")
    assert cache.get(key) is None
    assert cache.set(key, {**ANSWER, "request_id": "r-1", "cached": False})
    # Another worker (its own client) sees the same answer under the key of a surface variant.
    other = make_cache(production, prefix=f"{prefix}:answer")
    variant = "  WHAT should my mother with diabetes eat for breakfast? "
    assert other.get(answer_key(variant, "7", (False,), prefix=f"{prefix}:answer")) == ANSWER
    ttl_ms = raw.pttl(key)
    assert isinstance(ttl_ms, int) and 0 < ttl_ms <= production.cache_ttl_seconds * 1000
    stored_keys = [k.decode() for k in raw.scan_iter(match=f"{prefix}:*")]
    assert stored_keys == [key]
    assert "diabetes" not in key and "breakfast" not in json.dumps(stored(raw, key))
    assert stored(raw, key) == ANSWER  # the request's own fields are not stored
    assert cache.stats.snapshot()["hits"] == 0 and other.stats.hits == 1 and cache.stats.misses == 1


def test_entries_expire_in_redis(redis_url: str, prefix: str) -> None:
    cache = RedisAnswerCache(redis_url, 1, prefix=prefix)
    key = answer_key("hello", "7", prefix=prefix)
    assert cache.set(key, ANSWER) and cache.get(key) == ANSWER
    time.sleep(1.1)
    assert cache.get(key) is None


def test_crisis_answers_never_reach_redis(redis_url: str, prefix: str, raw: redis.Redis) -> None:
    cache = RedisAnswerCache(redis_url, 60, prefix=prefix)
    key = answer_key("I took all my pills", "7", prefix=prefix)
    assert cache.set(key, {**ANSWER, "crisis": True, "category": "crisis"}) is False
    assert raw.exists(key) == 0
    raw.set(key, json.dumps({**ANSWER, "crisis": True}))  # written by something else
    assert cache.get(key) is None
    raw.set(key, b"\xff not json")
    assert cache.get(key) is None
    assert cache.stats.bypass == {"crisis": 2} and cache.stats.errors == {"decode": 1}


def test_a_closed_port_degrades_the_cache_without_errors(make_settings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(
        profile="production", database_url="postgresql://postgres@127.0.0.1:5432", redis_url=closed_port_url()
    )
    cache = make_cache(settings)
    began = time.perf_counter()
    for _ in range(100):
        assert cache.get(answer_key("meal ideas", "7")) is None
        assert cache.set(answer_key("meal ideas", "7"), ANSWER) is False
    assert time.perf_counter() - began < 1.0
    assert sum(cache.stats.errors.values()) == 200 and cache.stats.errors["connection"] == 1
    assert cache.status() == "degraded"


# -- rate limits --------------------------------------------------------------------------------
def test_two_client_instances_share_one_limit(redis_url: str, prefix: str, raw: redis.Redis) -> None:
    first = RedisRateLimiter(redis_url, 4, prefix=prefix)
    second = RedisRateLimiter(redis_url, 4, prefix=prefix)
    assert [limiter.check("key-a").allowed for limiter in (first, second, first, second)] == [True] * 4
    refused = second.check("key-a")
    assert not refused.allowed and 1 <= refused.retry_after <= 60
    assert first.check("key-b").allowed  # each key has its own window
    assert raw.get(f"{prefix}:key-a") == b"5" and first.status() == "ok"


def test_two_processes_share_one_limit(redis_url: str, prefix: str) -> None:
    code = (
        "import sys; from careassist.access import RedisRateLimiter;"
        f"l = RedisRateLimiter({redis_url!r}, 5, prefix={prefix!r});"
        "print(sum(l.check('shared').allowed for _ in range(3)))"
    )
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert child.stdout.strip() == "3"
    limiter = RedisRateLimiter(redis_url, 5, prefix=prefix)
    decisions = [limiter.check("shared") for _ in range(3)]
    assert [d.allowed for d in decisions] == [True, True, False]
    assert 45 <= decisions[-1].retry_after <= 60  # the window the child process opened


def test_the_window_ends_and_the_key_is_allowed_again(redis_url: str, prefix: str) -> None:
    limiter = RedisRateLimiter(redis_url, 2, window_seconds=1, prefix=prefix)
    assert [limiter.check("k").allowed for _ in range(3)] == [True, True, False]
    time.sleep(1.1)
    assert limiter.check("k") == RateDecision(True, 0)


def test_a_closed_port_lets_requests_through(make_settings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(
        profile="production",
        database_url="postgresql://postgres@127.0.0.1:5432",
        redis_url=closed_port_url(),
        rate_limit_per_minute=1,
    )
    limiter = make_rate_limiter(settings)
    assert all(limiter.check("k").allowed for _ in range(10))
    assert limiter.stats.snapshot()["errors"] == {"connection": 1, "circuit_open": 9}
    assert limiter.status() == "degraded"
