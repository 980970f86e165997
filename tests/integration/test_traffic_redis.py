"""Traffic aggregates in the real Redis (db 15): hashes per hour with a TTL, summed over a window."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import redis

from careassist.traffic import RedisTrafficStore, TrafficRecorder, make_store, read_traffic

pytestmark = pytest.mark.integration

AT = datetime(2026, 11, 27, 3, 15, tzinfo=UTC).timestamp()


def test_workers_add_their_hours_to_expiring_hashes_and_a_window_sums_them(
    make_settings: Any, redis_url: str, prefix: str
) -> None:
    settings = make_settings(profile="production", database_url="postgresql://postgres@127.0.0.1:5432",
                             redis_url=redis_url, traffic_retention_hours=2)
    clock = [AT]
    workers = [TrafficRecorder(settings, store=RedisTrafficStore(redis_url, 2, prefix=prefix), clock=lambda: clock[0],
                               start=False) for _ in range(2)]
    for n, worker in enumerate(workers * 3):
        worker.record(category="nutrition_wellness", crisis=n == 0, out_of_scope=False, confidence=0.9,
                      message="what should my dad eat", model=None)
    clock[0] = AT + 3600
    workers[0].record(category="fall_prevention", crisis=False, out_of_scope=True, confidence=0.2, message="hm",
                      model=None)
    assert all(worker.flush() for worker in workers)

    raw = redis.Redis.from_url(redis_url)
    try:
        key = f"{prefix}:2026-11-27T03"
        assert raw.hgetall(key)[b"requests"] == b"6" and raw.hget(key, "label:crisis") == b"1"
        assert 0 < raw.ttl(key) <= 2 * 3600
        assert sorted(k.decode() for k in raw.scan_iter(match=f"{prefix}:*")) == [key, f"{prefix}:2026-11-27T04"]
    finally:
        raw.close()

    store = RedisTrafficStore(redis_url, 2, prefix=prefix)
    three = datetime(2026, 11, 27, 3, tzinfo=UTC)
    assert read_traffic(settings, three, three.replace(hour=4), store=store).labels() == {
        "crisis": 1, "nutrition_wellness": 5}
    both = read_traffic(settings, three, three.replace(hour=5), store=store)
    assert both.requests == 7 and both.labels()["out_of_scope"] == 1
    assert isinstance(make_store(settings), RedisTrafficStore)


def test_an_unreachable_redis_keeps_the_counts_in_process(make_settings: Any) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"redis://127.0.0.1:{sock.getsockname()[1]}/15"
    settings = make_settings(profile="production", database_url="postgresql://postgres@127.0.0.1:5432", redis_url=url)
    recorder = TrafficRecorder(settings, clock=lambda: AT, start=False)
    recorder.record(category="fall_prevention", crisis=False, out_of_scope=False, confidence=0.9, message="m",
                    model=None)
    assert recorder.flush() is False
    assert recorder.pending() == {"2026-11-27T03": {"requests": 1, "label:fall_prevention": 1, "confidence:9": 1,
                                                    "message_length:0": 1}}
