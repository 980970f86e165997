"""API keys and per-key rate limits of the HTTP service.

Keys are never stored: the service holds only their sha256 digests (``Settings.api_key_digests``,
several at once during a rotation). A presented key is hashed and compared with every digest in
constant time. A key's id, used in logs, metrics and rate limiting, is a short prefix of its digest:
stable, distinct per key, and no help in recovering the key.

Rate limits are a fixed window per key: Redis in production (one atomic Lua script, so every worker
and replica shares the count), in process on the embedded profile (per process). When Redis fails
the limiter **fails open**: the request is allowed and the failure counted. A limiter outage must
never turn away someone writing in a crisis; the limit protects capacity, and a short outage of it
costs far less than a refused call for help.

Operators create a key with ``python -m careassist.access`` (prints the key once, and its digest
for ``CAREASSIST_API_KEY_HASHES`` or the keys file).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, TextIO

from careassist.cache import (
    BREAKER_COOLDOWN_SECONDS,
    REDIS_TIMEOUT_SECONDS,
    Breaker,
    redis_client,
    redis_failure_reason,
)

if TYPE_CHECKING:
    import redis

    from careassist.settings import Settings

__all__ = [
    "DEFAULT_PREFIX",
    "ApiKeys",
    "HeaderSource",
    "InProcessRateLimiter",
    "RateDecision",
    "RateLimiter",
    "RedisRateLimiter",
    "create_key",
    "credential_from_headers",
    "digest_key",
    "key_id",
    "make_rate_limiter",
    "print_new_key",
]

#: Hex characters of the digest that name a key (48 bits: distinct for any realistic key count).
KEY_ID_CHARS = 12
#: Longest credential hashed; anything longer is refused unread.
MAX_KEY_CHARS = 512
DEFAULT_PREFIX = "careassist:ratelimit"
WINDOW_SECONDS = 60


# -- keys -------------------------------------------------------------------------------------
def digest_key(key: str) -> str:
    """The sha256 hex digest of a key: what settings hold instead of the key."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def key_id(digest: str) -> str:
    """The id of a key in logs, metrics and rate limits: the first ``KEY_ID_CHARS`` of its digest."""
    return digest[:KEY_ID_CHARS]


def create_key() -> tuple[str, str]:
    """A new random key (256 bits, URL-safe) and its digest."""
    key = secrets.token_urlsafe(32)
    return key, digest_key(key)


def print_new_key(stream: TextIO | None = None) -> str:
    """Create a key, print it with its digest and id for an operator, and return the digest."""
    out = stream or sys.stdout
    key, digest = create_key()
    print(f"api key (give to the client; shown once, never stored): {key}", file=out)
    print(f"sha256 digest (add to CAREASSIST_API_KEY_HASHES or the keys file): {digest}", file=out)
    print(f"key id (in logs and metrics): {key_id(digest)}", file=out)
    return digest


class HeaderSource(Protocol):
    """Request headers: a dict, or Flask's ``request.headers`` (which is no ``Mapping``)."""

    def items(self) -> Iterable[tuple[str, str]]: ...


class ApiKeys:
    """Checks presented keys against the accepted digests; holds no key."""

    def __init__(self, digests: Iterable[str]) -> None:
        cleaned = sorted({d.strip().lower() for d in digests if d.strip()})
        bad = [d for d in cleaned if len(d) != 64 or any(ch not in "0123456789abcdef" for ch in d)]
        if bad:
            raise ValueError(f"{len(bad)} accepted key digest(s) are not sha256 hex digests (64 characters 0-9a-f)")
        self._digests = tuple(bytes.fromhex(d) for d in cleaned)

    @classmethod
    def from_settings(cls, settings: Settings) -> ApiKeys:
        """The verifier of ``api_key_hashes`` plus ``api_keys_file`` (SettingsError if the file is unreadable)."""
        return cls(settings.api_key_digests)

    def __len__(self) -> int:
        return len(self._digests)

    @property
    def key_ids(self) -> tuple[str, ...]:
        """The ids of the accepted keys (for a start-up log line)."""
        return tuple(key_id(d.hex()) for d in self._digests)

    @staticmethod
    def credential(headers: HeaderSource) -> str | None:
        """The presented key of a request's headers (``credential_from_headers``)."""
        return credential_from_headers(headers)

    def verify(self, presented: object) -> str | None:
        """The key id when ``presented`` is an accepted key, else None.

        Compared with ``hmac.compare_digest`` against every digest, with no early exit, so the time
        taken says nothing about which digest (if any) matched.
        """
        if not isinstance(presented, str) or not 0 < len(presented) <= MAX_KEY_CHARS:
            return None
        candidate = hashlib.sha256(presented.encode("utf-8", "surrogatepass")).digest()
        matched: bytes | None = None
        for accepted in self._digests:
            if hmac.compare_digest(candidate, accepted):
                matched = accepted
        return key_id(matched.hex()) if matched is not None else None


def credential_from_headers(headers: HeaderSource) -> str | None:
    """The key of ``Authorization: Bearer <key>`` or else of ``X-API-Key``; None when neither holds one.

    Header names are matched case-insensitively (a plain dict works as well as Flask's headers) and
    the ``Bearer`` scheme too (RFC 9110). Another scheme (``Basic``) is not a key.
    """
    from werkzeug.datastructures import Headers

    if isinstance(headers, Headers):  # Flask's request headers: case-insensitive lookups already
        authorization, api_key = headers.get("Authorization"), headers.get("X-API-Key")
    else:
        lowered = {str(name).lower(): value for name, value in headers.items()}
        authorization, api_key = lowered.get("authorization"), lowered.get("x-api-key")
    if isinstance(authorization, str):
        scheme, _, credential = authorization.strip().partition(" ")
        credential = credential.strip()
        if scheme.lower() == "bearer" and credential and " " not in credential:
            return credential
    if isinstance(api_key, str) and api_key.strip():
        return api_key.strip()
    return None


# -- rate limits ------------------------------------------------------------------------------
class RateDecision(NamedTuple):
    """Whether a request may go on, and when a refused client may retry (whole seconds, >= 1)."""

    allowed: bool
    retry_after: int


@dataclass
class LimiterStats:
    """Counters of one limiter: decisions, and backend failures by reason (each one allowed)."""

    allowed: int = 0
    limited: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def decided(self, decision: RateDecision) -> RateDecision:
        with self.lock:
            if decision.allowed:
                self.allowed += 1
            else:
                self.limited += 1
        return decision

    def failed(self, reason: str) -> None:
        with self.lock:
            self.errors[reason] += 1

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {"allowed": self.allowed, "limited": self.limited, "errors": dict(self.errors)}


class RateLimiter:
    """At most ``limit`` requests per key in each window of ``window_seconds``; ``check`` never raises."""

    backend = "none"

    def __init__(self, limit: int, window_seconds: int = WINDOW_SECONDS) -> None:
        if limit < 1 or window_seconds < 1:
            raise ValueError(f"a rate limit needs limit >= 1 and window >= 1 s, got {limit} per {window_seconds} s")
        self.limit = int(limit)
        self.window_seconds = int(window_seconds)
        self.stats = LimiterStats()

    def check(self, key: str) -> RateDecision:
        """Count one request of ``key`` (a key id) and decide it."""
        raise NotImplementedError

    def status(self) -> str:
        return "ok"


class InProcessRateLimiter(RateLimiter):
    """Fixed windows in this process's memory (embedded profile: each worker counts on its own)."""

    backend = "memory"

    def __init__(
        self, limit: int, window_seconds: int = WINDOW_SECONDS, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__(limit, window_seconds)
        self._clock = clock
        self._windows: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def check(self, key: str) -> RateDecision:
        now = self._clock()
        with self._lock:
            if len(self._windows) > 10_000:
                # Keys are API key ids (a handful); this only bounds memory if a caller misuses it.
                self._windows = {k: w for k, w in self._windows.items() if w[0] + self.window_seconds > now}
            start, count = self._windows.get(key, (now, 0))
            if start + self.window_seconds <= now:
                start, count = now, 0
            count += 1
            self._windows[key] = (start, count)
        if count <= self.limit:
            return self.stats.decided(RateDecision(True, 0))
        retry_after = max(1, math.ceil(start + self.window_seconds - now))
        return self.stats.decided(RateDecision(False, retry_after))


# INCR, and on the window's first request an expiry: the window starts at a key's first request and
# Redis's own clock ends it, so workers on different machines need no synchronised clocks. The
# PTTL repair covers a key that lost its expiry (a PERSIST by hand), which would block it forever.
_FIXED_WINDOW = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
"""


class RedisRateLimiter(RateLimiter):
    """Fixed windows in Redis, shared by every process; fails open (allowed, counted) when Redis fails.

    Like any fixed window it lets a client send up to twice the limit across a window boundary;
    that is accepted here for one round trip per request.
    """

    backend = "redis"

    def __init__(
        self,
        url: str,
        limit: int,
        window_seconds: int = WINDOW_SECONDS,
        *,
        prefix: str = DEFAULT_PREFIX,
        timeout_seconds: float = REDIS_TIMEOUT_SECONDS,
        cooldown_seconds: float = BREAKER_COOLDOWN_SECONDS,
    ) -> None:
        super().__init__(limit, window_seconds)
        if not url:
            raise ValueError("the Redis rate limiter needs a redis:// URL (CAREASSIST_REDIS_URL)")
        self.url = url
        self.prefix = prefix
        self.timeout_seconds = timeout_seconds
        self.breaker = Breaker(cooldown_seconds)
        self._script: Any = None
        self._client: redis.Redis | None = None
        self._lock = threading.Lock()

    def _prepared(self) -> tuple[redis.Redis, Any]:
        """The client and the registered script, made on first use (construction never connects)."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    client = redis_client(self.url, self.timeout_seconds)
                    self._script = client.register_script(_FIXED_WINDOW)
                    self._client = client
        return self._client, self._script

    def check(self, key: str) -> RateDecision:
        try:
            self.breaker.check()
            count, ttl_ms = self._prepared()[1](keys=[f"{self.prefix}:{key}"], args=[self.window_seconds * 1000])
        except Exception as exc:  # noqa: BLE001 - fail open: see the module docstring
            if redis_failure_reason(exc) != "circuit_open":
                self.breaker.failed()
            self.stats.failed(redis_failure_reason(exc))
            return self.stats.decided(RateDecision(True, 0))
        self.breaker.succeeded()
        if int(count) <= self.limit:
            return self.stats.decided(RateDecision(True, 0))
        return self.stats.decided(RateDecision(False, max(1, math.ceil(int(ttl_ms) / 1000))))

    def status(self) -> str:
        if self.breaker.is_open:
            return "degraded"
        try:
            self._prepared()[0].ping()
        except Exception:  # noqa: BLE001 - a status check reports, never raises
            self.breaker.failed()
            return "degraded"
        return "ok"


def make_rate_limiter(settings: Settings, *, prefix: str = DEFAULT_PREFIX) -> RateLimiter:
    """Redis in production, in process otherwise; ``rate_limit_per_minute`` requests per key."""
    if settings.is_production:
        return RedisRateLimiter(settings.redis_url, settings.rate_limit_per_minute, prefix=prefix)
    return InProcessRateLimiter(settings.rate_limit_per_minute)


if __name__ == "__main__":
    print_new_key()
