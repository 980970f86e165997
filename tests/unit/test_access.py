"""API keys (digests only, constant-time checks, rotation) and per-key rate limits, without services."""

from __future__ import annotations

import hmac
import io
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from werkzeug.datastructures import Headers

from careassist import access
from careassist.access import (
    ApiKeys,
    InProcessRateLimiter,
    RateDecision,
    RedisRateLimiter,
    create_key,
    credential_from_headers,
    digest_key,
    key_id,
    make_rate_limiter,
    print_new_key,
)

pytestmark = pytest.mark.unit

OLD_KEY, NEW_KEY, REMOVED_KEY = "old-key-" + "a" * 30, "new-key-" + "b" * 30, "removed-key-" + "c" * 26


class FakeClock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


# -- keys -------------------------------------------------------------------------------------
def test_a_new_key_is_random_and_only_its_digest_is_kept() -> None:
    key, digest = create_key()
    assert len(key) >= 43 and digest == digest_key(key) and len(digest) == 64
    assert create_key()[0] != key
    verifier = ApiKeys([digest])
    assert verifier.verify(key) == key_id(digest) == digest[:12]
    assert key not in repr(vars(verifier)) and key_id(digest) not in key


def test_rotation_accepts_old_and_new_keys_and_refuses_a_removed_one() -> None:
    during = ApiKeys([digest_key(OLD_KEY), digest_key(NEW_KEY)])
    old_id, new_id = during.verify(OLD_KEY), during.verify(NEW_KEY)
    assert old_id == key_id(digest_key(OLD_KEY)) and new_id == key_id(digest_key(NEW_KEY)) and old_id != new_id
    after = ApiKeys([digest_key(NEW_KEY)])
    assert after.verify(NEW_KEY) == new_id
    assert after.verify(OLD_KEY) is None and after.verify(REMOVED_KEY) is None


@pytest.mark.parametrize("presented", ["", "wrong", OLD_KEY.upper(), OLD_KEY + " ", None, 42, b"bytes", "k" * 600])
def test_anything_but_an_accepted_key_is_refused(presented: object) -> None:
    assert ApiKeys([digest_key(OLD_KEY)]).verify(presented) is None


def test_no_configured_key_refuses_everything() -> None:
    assert ApiKeys([]).verify(OLD_KEY) is None and len(ApiKeys([" "])) == 0


def test_verify_compares_against_every_digest_without_early_exit(monkeypatch: pytest.MonkeyPatch) -> None:
    digests = [digest_key(k) for k in (OLD_KEY, NEW_KEY, REMOVED_KEY, "d" * 40)]
    verifier = ApiKeys(digests)
    calls: list[bool] = []
    compare = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        result = compare(a, b)
        calls.append(result)
        return result

    monkeypatch.setattr(access.hmac, "compare_digest", counting)
    for key, matches in ((OLD_KEY, 1), (NEW_KEY, 1), ("unknown", 0)):
        calls.clear()
        assert (verifier.verify(key) is not None) == bool(matches)
        # Every digest is compared, whichever one matched (the first, a later one) and when none did.
        assert len(calls) == 4 and calls.count(True) == matches


def test_the_verifier_rejects_values_that_are_not_digests() -> None:
    with pytest.raises(ValueError, match="not sha256 hex digests"):
        ApiKeys([OLD_KEY])


def test_the_verifier_reads_both_settings_sources(make_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    keys_file = tmp_path / "keys.txt"
    keys_file.write_text(f"# rotated in on Monday\n{digest_key(NEW_KEY)}  # new\n\n", encoding="utf-8")
    settings = make_settings(api_key_hashes=digest_key(OLD_KEY).upper(), api_keys_file=str(keys_file))
    verifier = ApiKeys.from_settings(settings)
    assert verifier.verify(OLD_KEY) and verifier.verify(NEW_KEY) and len(verifier) == 2
    assert set(verifier.key_ids) == {key_id(digest_key(OLD_KEY)), key_id(digest_key(NEW_KEY))}


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Authorization": "Bearer abc123"}, "abc123"),
        ({"authorization": "bearer   abc123 "}, "abc123"),
        ({"X-API-Key": " xyz "}, "xyz"),
        ({"x-api-key": "xyz"}, "xyz"),
        ({"Authorization": "Bearer abc", "X-API-Key": "xyz"}, "abc"),
        ({"Authorization": "Basic dXNlcjpwYXNz", "X-API-Key": "xyz"}, "xyz"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, None),
        ({"Authorization": "Bearer"}, None),
        ({"Authorization": "Bearer a b"}, None),
        ({"X-API-Key": "   "}, None),
        ({}, None),
    ],
)
def test_credential_from_headers(headers: dict[str, str], expected: str | None) -> None:
    assert credential_from_headers(headers) == expected
    assert credential_from_headers(Headers(headers)) == expected


def test_print_new_key_shows_key_digest_and_id() -> None:
    out = io.StringIO()
    digest = print_new_key(out)
    lines = out.getvalue().splitlines()
    key = lines[0].rsplit(" ", 1)[1]
    assert digest_key(key) == digest and lines[1].endswith(digest) and lines[2].endswith(key_id(digest))


def test_the_module_runs_as_a_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "careassist.access"], capture_output=True, text=True, check=True, timeout=60
    )
    assert "sha256 digest" in result.stdout


# -- rate limits --------------------------------------------------------------------------------
def test_in_process_window_refuses_over_the_limit_with_retry_after() -> None:
    clock = FakeClock()
    limiter = InProcessRateLimiter(3, clock=clock)
    assert [limiter.check("k1") for _ in range(3)] == [RateDecision(True, 0)] * 3
    clock.now += 20.2
    assert limiter.check("k1") == RateDecision(False, 40)
    assert limiter.check("k2").allowed  # another key has its own window
    clock.now += 39.7
    assert limiter.check("k1") == RateDecision(False, 1)  # never 0: a client must wait
    clock.now += 0.1
    allowed, retry_after = limiter.check("k1")
    assert allowed and retry_after == 0
    assert limiter.stats.snapshot() == {"allowed": 5, "limited": 2, "errors": {}}


def test_make_rate_limiter_picks_the_backend_by_profile(make_settings) -> None:  # type: ignore[no-untyped-def]
    embedded = make_rate_limiter(make_settings(rate_limit_per_minute=5))
    assert isinstance(embedded, InProcessRateLimiter) and embedded.limit == 5 and embedded.window_seconds == 60
    production = make_rate_limiter(
        make_settings(
            profile="production", database_url="postgresql://db.invalid:5432", redis_url="redis://127.0.0.1:1/15"
        )
    )
    assert isinstance(production, RedisRateLimiter) and production.status() == "degraded"


def test_redis_down_fails_open_and_is_counted() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    limiter = RedisRateLimiter(f"redis://127.0.0.1:{port}/15", 1, cooldown_seconds=60)
    began = time.perf_counter()
    decisions = [limiter.check("k") for _ in range(20)]
    assert time.perf_counter() - began < 1.0
    assert all(d == RateDecision(True, 0) for d in decisions)
    assert limiter.stats.snapshot() == {"allowed": 20, "limited": 0, "errors": {"connection": 1, "circuit_open": 19}}
    assert limiter.status() == "degraded"


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="limit >= 1"):
        InProcessRateLimiter(0)
