"""The answer cache: Redis in production; on the embedded profile an in-process LRU per worker in
front of one SQLite file that every worker shares.

A cached answer must be exactly the answer the service would compute, and never a crisis answer:

* The key (``answer_key``) is a sha256 of the *normalised* message (``normalise_message``: read
  exactly as the assistant reads it, never coarser), the model version and the session context
  that changes an answer (``answer_context``: a prior crisis flag escalates it).
  A promotion changes the model version, so an old model's answer is never served; no message text
  is ever stored, as key or value.
* **The rule the service must follow**: run the crisis gate (``careassist.crisis_rules.detect_rules``
  on the raw text) *before* any cache lookup, and answer a crisis without touching the cache. The
  cache enforces what it can on top: it refuses to store an answer whose ``crisis`` flag is not
  exactly ``False`` and refuses to serve one it finds (counted as ``bypass``), so a crisis answer is
  always computed fresh, and the model's crisis head still runs on every uncached message.
* An outage never fails or stalls a request: ``get`` returns None and ``set`` does nothing, each
  counted by reason; sockets time out after ``REDIS_TIMEOUT_SECONDS`` and after a failure Redis is
  left alone for ``BREAKER_COOLDOWN_SECONDS`` (``circuit_open``), so a dead or black-holed server
  costs one short timeout per cool-down, not one per request.

Why two tiers on the embedded profile: every gunicorn worker has its own memory, so with one LRU
each a message is computed once per worker, not once per machine (``make bench-serve``'s replayed
stream: 74.5% hits with two workers against 80.4% for one cache). The shared file makes a message
answered by one worker a hit for the others; the LRU in front keeps a repeated hit at memory speed.

``redis`` is imported on first use, so importing this module (and starting the web service) stays fast.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from careassist.text import strip_markup

if TYPE_CHECKING:
    import redis

    from careassist.assistant import SessionContext
    from careassist.settings import Settings

__all__ = [
    "DEFAULT_PREFIX",
    "AnswerCache",
    "Breaker",
    "CacheStats",
    "CircuitOpen",
    "LRUAnswerCache",
    "RedisAnswerCache",
    "ReplayResult",
    "SharedFileAnswerCache",
    "TieredAnswerCache",
    "answer_context",
    "answer_key",
    "make_cache",
    "normalise_message",
    "redis_client",
    "redis_failure_reason",
    "replay_hit_rate",
]

#: Bumped when the key layout or the stored value changes, so old entries are simply never read.
KEY_SCHEMA = "answer-v2"
DEFAULT_PREFIX = "careassist:answer"
#: Socket connect and read timeout of every Redis call on the request path.
REDIS_TIMEOUT_SECONDS = 0.075
#: How long Redis is left alone after a failure before one call tries it again.
BREAKER_COOLDOWN_SECONDS = 2.0
#: Fields of a response that belong to one request, dropped before an answer is stored.
VOLATILE_FIELDS = frozenset({"request_id", "cached"})

ContextValue = str | int | float | bool | None


# -- keys -------------------------------------------------------------------------------------
def normalise_message(text: str) -> str:
    """The message as the cache compares it: markup removed, lowercased, whitespace runs collapsed, trimmed.

    "  My dad CAN'T\tget <b>up</b> " and "my dad can't get up" share one key. This is exactly how
    the assistant reads a message (``strip_markup``, then the content base matches on
    ``" ".join(text.lower().split())`` and the model's vectorizer lowercases), and it must never be
    coarser: a hit skips the model, its crisis head included, which is safe only because two texts
    with one key are texts the model reads identically. Hence ``str.lower`` and not ``str.casefold``:
    casefold also merges "straße" with "strasse" (and "ﬁ" with "fi"), which the model and the
    content read as different words. Punctuation and digits are kept for the same reason.
    """
    return " ".join(strip_markup(text).lower().split())


def answer_context(session: SessionContext | None) -> tuple[ContextValue, ...]:
    """The session fields that change an answer, for ``answer_key``: today only the prior-crisis flag
    (it adds the escalation lines). Add a field here whenever the assistant starts reading one."""
    return (bool(session is not None and session.prior_crisis),)


def answer_key(
    message: str, model_version: str, context: tuple[ContextValue, ...] = (), *, prefix: str = DEFAULT_PREFIX
) -> str:
    """``<prefix>:<sha256 hex>`` of the normalised message, the model version and the context.

    The parts are JSON-encoded before hashing, so no two different inputs can run together into one.
    Raises ValueError without a model version: a key that outlives a promotion would serve an old
    model's answer.
    """
    if not isinstance(model_version, str) or not model_version:
        raise ValueError(f"an answer key needs the model version that produced the answer, got {model_version!r}")
    parts = [KEY_SCHEMA, model_version, list(context), normalise_message(message)]
    try:
        payload = msgspec.json.encode(parts)
    except (TypeError, UnicodeEncodeError, ValueError):
        # A JSON body may carry a lone surrogate ("\ud800"), which is not UTF-8: it must hash, not raise.
        payload = json.dumps(parts, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")
    return f"{prefix}:{hashlib.sha256(payload).hexdigest()}"



# -- statistics -------------------------------------------------------------------------------
@dataclass
class CacheStats:
    """Counters of one cache instance (the service exports them as ``careassist_cache{result}``).

    ``errors`` and ``bypass`` count by reason: errors are failures of the backend or of a value
    (``timeout``, ``connection``, ``redis``, ``circuit_open``, ``decode``, ``serialise``,
    ``unexpected``); bypasses are answers the cache refused to store or serve (``crisis``,
    ``no_crisis_flag``, ``not_a_mapping``).
    """

    hits: int = 0
    misses: int = 0
    sets: int = 0
    evictions: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    bypass: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, name: str, reason: str | None = None) -> None:
        with self.lock:
            if reason is None:
                setattr(self, name, getattr(self, name) + 1)
            else:
                getattr(self, name)[reason] += 1

    def snapshot(self) -> dict[str, Any]:
        """A consistent copy for metrics and tests."""
        with self.lock:
            return {
                "hits": self.hits,
                "misses": self.misses,
                "sets": self.sets,
                "evictions": self.evictions,
                "errors": dict(self.errors),
                "bypass": dict(self.bypass),
            }


def _refusal(answer: Mapping[str, Any]) -> str | None:
    """Why an answer must not be cached (or served from the cache), else None."""
    if not isinstance(answer, Mapping):
        return "not_a_mapping"
    if "crisis" not in answer:
        return "no_crisis_flag"
    if answer["crisis"] is not False or answer.get("category") == "crisis":
        return "crisis"
    return None


def _decode(data: str | bytes) -> Any:
    """A stored answer's JSON: msgspec first (a hit's main cost), the standard library for what it
    refuses and the stored JSON allows (an escaped lone surrogate)."""
    try:
        return msgspec.json.decode(data)
    except msgspec.DecodeError:
        return json.loads(data)


class AnswerCache:
    """The cache interface; subclasses store serialised answers. ``get`` and ``set`` never raise.

    The caller gives and gets a dict (the JSON body of an answer). What is stored is its JSON text,
    without the request's own fields (``VOLATILE_FIELDS``); a hit is a fresh dict each time.
    """

    backend = "none"

    def __init__(self, ttl_seconds: int, *, prefix: str = DEFAULT_PREFIX) -> None:
        if ttl_seconds < 1:
            raise ValueError(f"cache TTL must be at least 1 second, got {ttl_seconds}")
        self.ttl_seconds = int(ttl_seconds)
        self.prefix = prefix
        self.stats = CacheStats()

    def key(self, message: str, model_version: str, context: tuple[ContextValue, ...] = ()) -> str:
        """``answer_key`` under this cache's prefix."""
        return answer_key(message, model_version, context, prefix=self.prefix)

    def get(self, key: str) -> dict[str, Any] | None:
        """The cached answer, or None on a miss, an outage or a value that must not be served."""
        try:
            data = self._read(key)
        except Exception as exc:  # noqa: BLE001 - a cache must never fail a request
            self.stats.add("errors", self._reason(exc))
            return None
        if data is None:
            self.stats.add("misses")
            return None
        try:
            answer = _decode(data)
        except (ValueError, UnicodeDecodeError):
            self.stats.add("errors", "decode")
            return None
        refused = _refusal(answer)
        if refused is not None:
            self.stats.add("bypass", refused)
            return None
        self.stats.add("hits")
        return dict(answer)

    def set(self, key: str, answer: Mapping[str, Any]) -> bool:
        """Store a non-crisis answer for ``ttl_seconds``; False when refused or the backend failed."""
        refused = _refusal(answer)
        if refused is not None:
            self.stats.add("bypass", refused)
            return False
        try:
            data = json.dumps({k: v for k, v in answer.items() if k not in VOLATILE_FIELDS}, allow_nan=False)
        except (TypeError, ValueError):
            self.stats.add("errors", "serialise")
            return False
        try:
            self._write(key, data)
        except Exception as exc:  # noqa: BLE001 - a cache must never fail a request
            self.stats.add("errors", self._reason(exc))
            return False
        self.stats.add("sets")
        return True

    def status(self) -> str:
        """``"ok"`` or ``"degraded"`` (for /readyz; a degraded cache only costs latency)."""
        return "ok"

    def _reason(self, exc: BaseException) -> str:
        return "unexpected"

    def _read(self, key: str) -> str | bytes | None:
        raise NotImplementedError

    def _write(self, key: str, data: str) -> None:
        raise NotImplementedError


def _cache_size(max_entries: int) -> int:
    if max_entries < 1:
        raise ValueError(f"cache size must be at least 1 entry, got {max_entries}")
    return int(max_entries)


class LRUAnswerCache(AnswerCache):
    """An in-process, thread-safe LRU with a TTL per entry (embedded profile; one per process)."""

    backend = "memory"

    def __init__(
        self,
        max_entries: int,
        ttl_seconds: int,
        *,
        prefix: str = DEFAULT_PREFIX,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(ttl_seconds, prefix=prefix)
        self.max_entries = _cache_size(max_entries)
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def _read(self, key: str) -> str | None:
        now = self._clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] <= now:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def _write(self, key: str, data: str, ttl_seconds: float | None = None) -> None:
        expires = self._clock() + (self.ttl_seconds if ttl_seconds is None else ttl_seconds)
        evicted = 0
        with self._lock:
            self._entries[key] = (expires, data)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
                evicted += 1
        for _ in range(evicted):
            self.stats.add("evictions")


# -- one file shared by the workers (embedded profile) ----------------------------------------
class SharedFileAnswerCache(AnswerCache):
    """Answers in one SQLite file that every worker (process) of a machine opens.

    WAL mode: reads never wait for the writer. Writes are queued and written behind the request,
    every ``FLUSH_SECONDS`` in one transaction, by a thread that runs while there is something to
    write (a row costs a few microseconds that way, against about 40 one by one); other workers see
    an answer once it is written. Nothing is synced to disk (``synchronous=OFF``): a crash loses
    cached answers, which are recomputed, never wrong. Expiry times are wall-clock (processes share
    them); past ``max_entries`` the entries that expire first are dropped. A locked or broken file is
    a cache failure like a Redis outage: counted, the request answered uncached.
    """

    backend = "file"
    #: How long a statement waits for another process's write (they take microseconds).
    BUSY_TIMEOUT_SECONDS = 0.05
    #: How long a new answer waits before it is written, with the others that came meanwhile.
    FLUSH_SECONDS = 0.05
    #: Rows written between two trims to ``max_entries``.
    TRIM_EVERY = 256
    #: Queued rows beyond this are dropped (oldest first) while the file cannot keep up.
    MAX_PENDING = 10_000

    def __init__(
        self,
        path: Path,
        max_entries: int,
        ttl_seconds: int,
        *,
        prefix: str = DEFAULT_PREFIX,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(ttl_seconds, prefix=prefix)
        self.path = Path(path)
        self.max_entries = _cache_size(max_entries)
        self._clock = clock
        self._local = threading.local()
        self._pending: list[tuple[str, float, str]] = []
        self._pending_lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._flusher: threading.Thread | None = None
        self._writer: sqlite3.Connection | None = None
        self._written = 0

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=self.BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=OFF")
            db.execute(
                "CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, expires REAL NOT NULL, data TEXT NOT NULL)"
            )
            db.execute("CREATE INDEX IF NOT EXISTS answers_expires ON answers (expires)")
        except BaseException:
            db.close()
            raise
        return db

    def _db(self) -> sqlite3.Connection:
        """This thread's connection for reads."""
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = self._connect()
        return db

    def read_with_ttl(self, key: str) -> tuple[str, float] | None:
        """The stored text and its remaining seconds, or None when absent or expired."""
        now = self._clock()
        row = self._db().execute("SELECT data, expires FROM answers WHERE key = ?", (key,)).fetchone()
        if row is None or row[1] <= now:
            return None
        return str(row[0]), float(row[1]) - now

    def _read(self, key: str) -> str | None:
        found = self.read_with_ttl(key)
        return None if found is None else found[0]

    def _write(self, key: str, data: str) -> None:
        row = (key, self._clock() + self.ttl_seconds, data)
        with self._pending_lock:
            self._pending.append(row)
            if len(self._pending) > self.MAX_PENDING:
                del self._pending[: len(self._pending) - self.MAX_PENDING]
            if self._flusher is None:
                self._flusher = threading.Thread(target=self._flush_behind, name="answer-cache-writer", daemon=True)
                self._flusher.start()

    def _flush_behind(self) -> None:
        while True:
            time.sleep(self.FLUSH_SECONDS)
            self.flush()
            with self._pending_lock:
                if not self._pending:
                    self._flusher = None
                    return

    def flush(self) -> int:
        """Write the queued answers now, in one transaction; how many were written (0 on a failure,
        which is counted and drops them: they are recomputed when asked again)."""
        with self._flush_lock:
            with self._pending_lock:
                rows, self._pending = self._pending, []
            if not rows:
                return 0
            try:
                if self._writer is None:
                    self._writer = self._connect()
                db = self._writer
                db.execute("BEGIN IMMEDIATE")
                try:
                    db.executemany("INSERT OR REPLACE INTO answers VALUES (?, ?, ?)", rows)
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
                db.execute("COMMIT")
                self._written += len(rows)
                if self._written >= self.TRIM_EVERY:
                    self._written = 0
                    self._trim(db)
            except Exception as exc:  # noqa: BLE001 - a cache must never fail anything
                self.stats.add("errors", self._reason(exc))
                return 0
            return len(rows)

    def _trim(self, db: sqlite3.Connection) -> int:
        """Drop expired entries, then the soonest-expiring beyond ``max_entries``; how many went."""
        dropped = db.execute("DELETE FROM answers WHERE expires <= ?", (self._clock(),)).rowcount
        (count,) = db.execute("SELECT COUNT(*) FROM answers").fetchone()
        if count > self.max_entries:
            dropped += db.execute(
                "DELETE FROM answers WHERE key IN (SELECT key FROM answers ORDER BY expires LIMIT ?)",
                (count - self.max_entries,),
            ).rowcount
        for _ in range(dropped):
            self.stats.add("evictions")
        return int(dropped)

    def __len__(self) -> int:
        (count,) = self._db().execute("SELECT COUNT(*) FROM answers WHERE expires > ?", (self._clock(),)).fetchone()
        return int(count)

    def _reason(self, exc: BaseException) -> str:
        if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
            return "timeout"
        return "file" if isinstance(exc, sqlite3.Error | OSError) else "unexpected"

    def status(self) -> str:
        try:
            self._db().execute("SELECT 1 FROM answers LIMIT 1").fetchall()
        except Exception:  # noqa: BLE001 - a status check reports, never raises
            return "degraded"
        return "ok"


class TieredAnswerCache(AnswerCache):
    """A worker's LRU in front of the shared file: a hit in the file is copied into the LRU (with
    the time it has left), a new answer goes to both. The file failing leaves the LRU working."""

    def __init__(self, near: LRUAnswerCache, shared: SharedFileAnswerCache) -> None:
        super().__init__(near.ttl_seconds, prefix=near.prefix)
        self.near, self.shared = near, shared
        self.backend = f"{near.backend}+{shared.backend}"

    def _read(self, key: str) -> str | None:
        data = self.near._read(key)
        if data is not None:
            return data
        try:
            found = self.shared.read_with_ttl(key)
        except Exception as exc:  # noqa: BLE001 - the LRU alone still serves
            self.stats.add("errors", self.shared._reason(exc))
            return None
        if found is None:
            return None
        self.near._write(key, found[0], found[1])
        return found[0]

    def _write(self, key: str, data: str) -> None:
        self.near._write(key, data)
        try:
            self.shared._write(key, data)
        except Exception as exc:  # noqa: BLE001 - the LRU alone still serves
            self.stats.add("errors", self.shared._reason(exc))

    def __len__(self) -> int:
        return len(self.near)

    def status(self) -> str:
        return self.shared.status()


# -- Redis ------------------------------------------------------------------------------------
def redis_client(url: str, timeout_seconds: float = REDIS_TIMEOUT_SECONDS) -> redis.Redis:
    """A client for the request path: short connect/read timeouts and no retries.

    A retry would double the worst-case latency of every request during an outage; a failed call
    is counted and the request goes on without the cache (or the rate limit).
    """
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis.from_url(
        url,
        socket_connect_timeout=timeout_seconds,
        socket_timeout=timeout_seconds,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=0,
    )


def redis_failure_reason(exc: BaseException) -> str:
    """A closed set of labels for a failed Redis call (timeouts first: they are subclasses elsewhere)."""
    try:
        import redis.exceptions as errors
    except ImportError:  # pragma: no cover - redis is a dependency
        return "unexpected"
    if isinstance(exc, CircuitOpen):
        return "circuit_open"
    if isinstance(exc, errors.TimeoutError | TimeoutError):
        return "timeout"
    if isinstance(exc, errors.ConnectionError | ConnectionError):
        return "connection"
    if isinstance(exc, errors.RedisError):
        return "redis"
    return "unexpected"


class CircuitOpen(Exception):
    """Raised instead of calling Redis while the breaker is open."""


class Breaker:
    """After a failure, skip the backend for ``cooldown`` seconds; then let calls try again."""

    def __init__(self, cooldown: float = BREAKER_COOLDOWN_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.cooldown = cooldown
        self._clock = clock
        self._open_until = 0.0

    @property
    def is_open(self) -> bool:
        return self._clock() < self._open_until

    def check(self) -> None:
        if self.is_open:
            raise CircuitOpen("Redis failed recently; not calling it until the cool-down ends")

    def failed(self) -> None:
        self._open_until = self._clock() + self.cooldown

    def succeeded(self) -> None:
        self._open_until = 0.0


class RedisAnswerCache(AnswerCache):
    """Answers in Redis with ``SET ... EX ttl`` (production; shared by every worker and replica).

    The connection is made on first use, so constructing the cache never blocks or fails.
    """

    backend = "redis"

    def __init__(
        self,
        url: str,
        ttl_seconds: int,
        *,
        prefix: str = DEFAULT_PREFIX,
        timeout_seconds: float = REDIS_TIMEOUT_SECONDS,
        cooldown_seconds: float = BREAKER_COOLDOWN_SECONDS,
    ) -> None:
        super().__init__(ttl_seconds, prefix=prefix)
        if not url:
            raise ValueError("the Redis answer cache needs a redis:// URL (CAREASSIST_REDIS_URL)")
        self.url = url
        self.timeout_seconds = timeout_seconds
        self.breaker = Breaker(cooldown_seconds)
        self._client: redis.Redis | None = None
        self._client_lock = threading.Lock()

    @property
    def client(self) -> redis.Redis:
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    self._client = redis_client(self.url, self.timeout_seconds)
        return self._client

    def _call(self, operation: Callable[[redis.Redis], Any]) -> Any:
        self.breaker.check()
        try:
            result = operation(self.client)
        except Exception:
            self.breaker.failed()
            raise
        self.breaker.succeeded()
        return result

    def _read(self, key: str) -> bytes | None:
        value: bytes | None = self._call(lambda client: client.get(key))
        return value

    def _write(self, key: str, data: str) -> None:
        self._call(lambda client: client.set(key, data, ex=self.ttl_seconds))

    def _reason(self, exc: BaseException) -> str:
        return redis_failure_reason(exc)

    def status(self) -> str:
        """A PING with the request-path timeout; ``degraded`` while the breaker is open."""
        if self.breaker.is_open:
            return "degraded"
        try:
            self._call(lambda client: client.ping())
        except Exception:  # noqa: BLE001 - a status check reports, never raises
            return "degraded"
        return "ok"


def shared_file(settings: Settings) -> Path:
    """The answer file the embedded profile's workers share, in the service's folder of the data root."""
    from careassist.serve import serving_dir

    return serving_dir(settings) / "answer-cache.sqlite"


def make_cache(settings: Settings, *, prefix: str = DEFAULT_PREFIX) -> AnswerCache:
    """By ``cache_backend``: Redis (``redis_url``, shared by every worker) for ``redis``, and for
    ``auto`` in production; for ``auto`` on the embedded profile an LRU of ``cache_max_entries``
    per worker in front of the shared file ``<data root>/serving/answer-cache.sqlite``; for
    ``memory`` the LRU alone."""
    backend = settings.cache_backend
    if backend == "redis" or (backend == "auto" and settings.is_production):
        return RedisAnswerCache(settings.redis_url, settings.cache_ttl_seconds, prefix=prefix)
    near = LRUAnswerCache(settings.cache_max_entries, settings.cache_ttl_seconds, prefix=prefix)
    if backend == "memory":
        return near
    shared = SharedFileAnswerCache(
        shared_file(settings), settings.cache_max_entries, settings.cache_ttl_seconds, prefix=prefix
    )
    return TieredAnswerCache(near, shared)


# -- replay (benchmarks) ----------------------------------------------------------------------
@dataclass(frozen=True)
class ReplayResult:
    """How a query stream went through a cache.

    ``misses`` were computed and stored; ``bypassed`` never touch the cache (crisis by the rules) or
    were refused by it (crisis by the model). ``hit_rate`` is hits over all queries.
    """

    queries: int
    hits: int
    misses: int
    bypassed: int

    @property
    def hit_rate(self) -> float:
        return self.hits / self.queries if self.queries else 0.0


def _is_rule_crisis(text: str) -> bool:
    from careassist.crisis_rules import detect_rules

    return detect_rules(text) is not None


def replay_hit_rate(
    cache: AnswerCache,
    messages: Iterable[str],
    *,
    model_version: str = "replay",
    context: tuple[ContextValue, ...] = (False,),
    answer: Callable[[str], Mapping[str, Any]] | None = None,
    is_crisis: Callable[[str], bool] | None = None,
) -> ReplayResult:
    """Replay ``messages`` through ``cache`` as the service would, and count hits.

    Each message first goes through the crisis gate (``is_crisis``, default the rule layer): a
    crisis bypasses the cache. Otherwise a miss computes ``answer(message)`` (default a stub
    non-crisis answer) and stores it; an answer the cache refuses (a crisis from the model) counts
    as bypassed. The cache is filled as a side effect: give it a fresh instance.
    """
    gate = is_crisis or _is_rule_crisis
    compute = answer or (lambda _message: {"crisis": False, "category": "replay"})
    queries = hits = misses = bypassed = 0
    for message in messages:
        queries += 1
        if gate(message):
            bypassed += 1
            continue
        key = cache.key(message, model_version, context)
        if cache.get(key) is not None:
            hits += 1
            continue
        misses += 1
        computed = compute(message)
        if _refusal(computed) is not None:
            bypassed += 1
            misses -= 1
            continue
        cache.set(key, computed)
    return ReplayResult(queries=queries, hits=hits, misses=misses, bypassed=bypassed)
