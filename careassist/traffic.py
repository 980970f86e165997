"""Anonymous aggregates of the traffic the assistant serves, the input of drift detection.

Per UTC hour the service counts answers by served label (a category, ``crisis`` or
``out_of_scope``), and histograms with fixed bins of the answer's confidence, of the share of the
message's words the model's vocabulary lacks (out-of-vocabulary rate) and of the message's length in
characters. Every stored field comes from a closed set: no text, no session or request id, nothing a
caller can grow.

Recording is cheap on the request path (one tokenization and a few counter increments in process);
a background thread flushes the counts every ``traffic_flush_seconds`` to the profile's store:
Redis hashes with a TTL (``HINCRBY`` in one transaction) on the production profile, a SQLite file
under the data root (one upsert transaction) on the embedded one. A failed flush keeps the counts
for the next one; ``read_traffic`` sums a window's hours for the drift check. The same
``TrafficAggregate`` counts the training baseline (``careassist.drift``), so both sides are binned
by one piece of code.
"""

from __future__ import annotations

import hashlib
import logging
import math
import sqlite3
import threading
import time
import weakref
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from careassist.taxonomy import CATEGORIES, OUT_OF_SCOPE

if TYPE_CHECKING:
    from careassist.model import AssistantModel
    from careassist.settings import Settings

log = logging.getLogger(__name__)

#: Served labels; anything else (a model with other classes) is counted as ``other``.
UNKNOWN = "unknown"
LABELS: tuple[str, ...] = (*CATEGORIES, OUT_OF_SCOPE, UNKNOWN)
#: Upper bin edges of each histogram signal (a value on an edge goes to the lower bin for the
#: out-of-vocabulary rate, so that its first bin holds exactly the messages with no unknown word).
CONFIDENCE_EDGES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
OOV_EDGES = (0.0, 0.05, 0.1, 0.2, 0.35, 0.5)
LENGTH_EDGES = (20, 40, 80, 160, 320, 640, 1280)
HISTOGRAMS: dict[str, tuple[float, ...]] = {
    "confidence": CONFIDENCE_EDGES,
    "oov_rate": OOV_EDGES,
    "message_length": LENGTH_EDGES,
}
#: Version of ``TrafficAggregate.to_dict``'s layout.
FORMAT = 1
HOUR_FORMAT = "%Y-%m-%dT%H"
SQLITE_FILE = "traffic.sqlite"
REDIS_PREFIX = "careassist:traffic"
#: Hours of counts kept in memory while the store is unreachable; older ones are dropped (counted).
MAX_PENDING_HOURS = 48


class TrafficError(ValueError):
    """Traffic aggregates that cannot be read or compared (unknown format, other bins)."""


def served_label(category: str, crisis: bool, out_of_scope: bool) -> str:
    """The label an answer counts under: what the user was told, as the evaluation tabulates it."""
    if crisis:
        return "crisis"
    if out_of_scope:
        return OUT_OF_SCOPE
    return category if category in LABELS else "other"


def bin_labels(signal: str) -> list[str]:
    """Readable names of a histogram's bins, e.g. ``[0.1, 0.2)``."""
    edges = HISTOGRAMS[signal]
    if signal == "oov_rate":
        names = ["0"] + [f"({low:g}, {high:g}]" for low, high in pairwise(edges)]
        return [*names, f"> {edges[-1]:g}"]
    lows = (0, *edges)
    return [f"[{low:g}, {high:g})" for low, high in zip(lows, edges, strict=False)] + [f">= {edges[-1]:g}"]


def _bin(signal: str, value: float) -> int:
    edges = HISTOGRAMS[signal]
    return bisect_left(edges, value) if signal == "oov_rate" else bisect_right(edges, value)


# -- the vocabulary ------------------------------------------------------------------------------
class Vocabulary:
    """The terms of the model's word vectorizer, and that vectorizer's own tokenization of a message."""

    #: Messages whose counts are remembered (by a digest, never the text); a repeated message, a
    #: cache hit, is tokenized once per this many distinct messages.
    REMEMBERED = 65_536

    def __init__(self, terms: Mapping[str, Any] | frozenset[str], tokenize: Callable[[str], list[str]]) -> None:
        self.terms = terms
        self.tokenize = tokenize
        self.remembered: dict[bytes, tuple[int, int]] = {}

    @classmethod
    def of_model(cls, model: AssistantModel) -> Vocabulary | None:
        """The category head's word-level vocabulary (no copy: the fitted dict itself), or None."""
        from careassist.model import prepare_text

        features = model.category.named_steps["features"]
        for _, vectorizer, _ in features.transformers_:
            terms = getattr(vectorizer, "vocabulary_", None)
            if getattr(vectorizer, "analyzer", None) == "word" and isinstance(terms, dict):
                return cls(terms, _word_tokenizer(vectorizer, prepare_text))
        return None

    def count(self, text: str) -> tuple[int, int]:
        """(tokens, tokens the model has never seen) of one message."""
        digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
        found = self.remembered.get(digest)
        if found is not None:
            return found
        tokens = self.tokenize(text)
        terms = self.terms
        counted = len(tokens), sum(1 for token in tokens if token not in terms)
        if len(self.remembered) >= self.REMEMBERED:
            self.remembered = {}
        self.remembered[digest] = counted
        return counted


def _word_tokenizer(vectorizer: Any, prepare: Callable[[str], str]) -> Callable[[str], list[str]]:
    """The vectorizer's own preprocessing and token split, after the model's text preparation."""
    preprocess, split = vectorizer.build_preprocessor(), vectorizer.build_tokenizer()

    def tokenize(text: str) -> list[str]:
        return list(split(preprocess(prepare(text))))

    return tokenize


_VOCABULARIES: dict[int, tuple[weakref.ref[Any], Vocabulary | None]] = {}


def vocabulary_of(model: AssistantModel) -> Vocabulary | None:
    """``Vocabulary.of_model`` built once per model object (the serving model changes rarely)."""
    key = id(model)
    entry = _VOCABULARIES.get(key)
    if entry is not None and entry[0]() is model:
        return entry[1]
    vocabulary = Vocabulary.of_model(model)
    _VOCABULARIES[key] = (weakref.ref(model, lambda _: _VOCABULARIES.pop(key, None)), vocabulary)
    return vocabulary


# -- the aggregate ---------------------------------------------------------------------------------
def observation(label: str, confidence: float, message: str, vocabulary: Vocabulary | None) -> dict[str, int]:
    """The counter increments of one answer: its label, its bins, its token counts."""
    fields = {
        "requests": 1,
        f"label:{label}": 1,
        f"confidence:{_bin('confidence', confidence)}": 1,
        f"message_length:{_bin('message_length', len(message))}": 1,
    }
    if vocabulary is not None:
        tokens, unknown = vocabulary.count(message)
        # A message with no word at all is wholly unknown to the model.
        fields[f"oov_rate:{_bin('oov_rate', unknown / tokens if tokens else 1.0)}"] = 1
        fields["tokens"] = tokens
        fields["oov_tokens"] = unknown
    return fields


@dataclass
class TrafficAggregate:
    """Counts of closed-set fields (``requests``, ``label:<label>``, ``<signal>:<bin>``, ``tokens``...)."""

    counts: Counter[str] = field(default_factory=Counter)

    @property
    def requests(self) -> int:
        return self.counts["requests"]

    def observe(self, label: str, confidence: float, message: str, vocabulary: Vocabulary | None) -> None:
        self.counts.update(observation(label, confidence, message, vocabulary))

    def labels(self) -> dict[str, int]:
        """Answers per served label (labels never seen are absent)."""
        return {name.removeprefix("label:"): n for name, n in sorted(self.counts.items()) if name.startswith("label:")}

    def histogram(self, signal: str) -> list[int]:
        """Counts per bin of a histogram signal."""
        return [self.counts[f"{signal}:{index}"] for index in range(len(HISTOGRAMS[signal]) + 1)]

    @property
    def oov_share(self) -> float | None:
        """Unknown tokens over all tokens of the counted messages."""
        return self.counts["oov_tokens"] / self.counts["tokens"] if self.counts["tokens"] else None

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "edges": {k: list(v) for k, v in HISTOGRAMS.items()},
                "counts": dict(sorted((k, int(v)) for k, v in self.counts.items() if v))}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "traffic aggregate") -> TrafficAggregate:
        """An aggregate written by ``to_dict``; refuses another format or other bins (not comparable)."""
        if data.get("format") != FORMAT:
            raise TrafficError(f"{source}: format {data.get('format')!r}, expected {FORMAT}")
        if data.get("edges") != {k: list(v) for k, v in HISTOGRAMS.items()}:
            raise TrafficError(f"{source}: binned with other edges {data.get('edges')}; recompute it")
        return cls(Counter({str(k): int(v) for k, v in data.get("counts", {}).items()}))


# -- hours ------------------------------------------------------------------------------------------
def hour_bucket(timestamp: float) -> str:
    """The UTC hour of a POSIX timestamp, as stored (``2026-11-27T03``); the last hour's name is
    remembered (every answer is counted under one)."""
    global _last_hour
    hour = math.floor(timestamp / 3600)
    remembered = _last_hour
    if remembered[0] == hour:
        return remembered[1]
    name = time.strftime(HOUR_FORMAT, time.gmtime(timestamp))
    _last_hour = (hour, name)
    return name


_last_hour: tuple[int, str] = (-1, "")


def window_buckets(start: datetime, end: datetime) -> list[str]:
    """The hours that hold traffic of ``[start, end)`` (whole hours: a partial one counts whole)."""
    if start.tzinfo is None or end.tzinfo is None:
        raise TrafficError("a traffic window needs timezone-aware datetimes")
    hour = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    buckets = []
    while hour < end:
        buckets.append(hour.strftime(HOUR_FORMAT))
        hour += timedelta(hours=1)
    return buckets


# -- stores -----------------------------------------------------------------------------------------
class TrafficStore(Protocol):
    def add(self, buckets: Mapping[str, Mapping[str, int]]) -> None: ...

    def read(self, buckets: Iterable[str]) -> Counter[str]: ...


class SQLiteTrafficStore:
    """Hourly counts in a SQLite file (embedded profile); every worker adds in its own transaction."""

    def __init__(self, path: Path, retention_hours: int) -> None:
        self.path = path
        self.retention_hours = retention_hours

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute(
            "CREATE TABLE IF NOT EXISTS traffic (bucket TEXT NOT NULL, field TEXT NOT NULL,"
            " count INTEGER NOT NULL, PRIMARY KEY (bucket, field)) WITHOUT ROWID"
        )
        return connection

    def add(self, buckets: Mapping[str, Mapping[str, int]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        rows = [(bucket, name, int(n)) for bucket, counts in buckets.items() for name, n in counts.items() if n]
        oldest = hour_bucket(time.time() - self.retention_hours * 3600)
        connection = self._connect()
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.executemany(
                "INSERT INTO traffic (bucket, field, count) VALUES (?, ?, ?)"
                " ON CONFLICT (bucket, field) DO UPDATE SET count = count + excluded.count",
                rows,
            )
            connection.execute("DELETE FROM traffic WHERE bucket < ?", (oldest,))
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        finally:
            connection.close()

    def read(self, buckets: Iterable[str]) -> Counter[str]:
        wanted = list(buckets)
        if not wanted or not self.path.exists():
            return Counter()
        connection = self._connect()
        try:
            marks = ",".join("?" * len(wanted))
            rows = connection.execute(
                f"SELECT field, SUM(count) FROM traffic WHERE bucket IN ({marks}) GROUP BY field", wanted
            ).fetchall()
        finally:
            connection.close()
        return Counter({name: int(n) for name, n in rows})


class RedisTrafficStore:
    """Hourly counts in Redis hashes ``<prefix>:<hour>`` that expire after the retention (production)."""

    def __init__(self, url: str, retention_hours: int, *, prefix: str = REDIS_PREFIX, timeout_seconds: float = 2.0):
        self.url = url
        self.prefix = prefix
        self.ttl_seconds = retention_hours * 3600
        self.timeout_seconds = timeout_seconds
        self._client: Any = None

    def client(self) -> Any:
        if self._client is None:
            from careassist.cache import redis_client

            self._client = redis_client(self.url, self.timeout_seconds)
        return self._client

    def key(self, bucket: str) -> str:
        return f"{self.prefix}:{bucket}"

    def add(self, buckets: Mapping[str, Mapping[str, int]]) -> None:
        pipe = self.client().pipeline(transaction=True)
        for bucket, counts in buckets.items():
            key = self.key(bucket)
            for name, n in counts.items():
                if n:
                    pipe.hincrby(key, name, int(n))
            pipe.expire(key, self.ttl_seconds)
        pipe.execute()

    def read(self, buckets: Iterable[str]) -> Counter[str]:
        pipe = self.client().pipeline(transaction=False)
        for bucket in buckets:
            pipe.hgetall(self.key(bucket))
        total: Counter[str] = Counter()
        for values in pipe.execute():
            total.update({name.decode(): int(n) for name, n in values.items()})
        return total


def make_store(settings: Settings, *, prefix: str = REDIS_PREFIX) -> TrafficStore:
    """Redis on the production profile, a SQLite file under the data root otherwise."""
    if settings.is_production:
        return RedisTrafficStore(settings.redis_url, settings.traffic_retention_hours, prefix=prefix)
    return SQLiteTrafficStore(settings.monitoring_dir / SQLITE_FILE, settings.traffic_retention_hours)


def read_traffic(settings: Settings, start: datetime, end: datetime, store: TrafficStore | None = None) -> TrafficAggregate:
    """The served traffic of the hours of ``[start, end)``, summed."""
    return TrafficAggregate((store or make_store(settings)).read(window_buckets(start, end)))


# -- the recorder ---------------------------------------------------------------------------------
class TrafficRecorder:
    """Counts each served answer in process; a background thread adds the counts to the store.

    ``record`` never raises and never waits for the store. Counts of an hour whose flush failed stay
    in memory for the next flush (at most ``MAX_PENDING_HOURS`` hours of them).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        store: TrafficStore | None = None,
        clock: Callable[[], float] = time.time,
        flush_seconds: float | None = None,
        start: bool = True,
    ) -> None:
        self.settings = settings
        self._store = store
        self._clock = clock
        self.flush_seconds = settings.traffic_flush_seconds if flush_seconds is None else flush_seconds
        self._start = start
        self._pending: dict[str, Counter[str]] = {}
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self.events: Counter[str] = Counter()

    @property
    def store(self) -> TrafficStore:
        if self._store is None:
            self._store = make_store(self.settings)
        return self._store

    def record(
        self, *, category: str, crisis: bool, out_of_scope: bool, confidence: float, message: str,
        model: AssistantModel | None,
    ) -> None:
        """Count one answer (its label, bins and token counts; never the text)."""
        try:
            vocabulary = vocabulary_of(model) if model is not None else None
            fields = observation(served_label(category, crisis, out_of_scope), confidence, message, vocabulary)
            bucket = hour_bucket(self._clock())
            with self._lock:
                self._pending.setdefault(bucket, Counter()).update(fields)
            if self._worker is None and self._start:
                self._start_worker()
        except Exception:  # counting must never fail an answer
            self.events["record_failed"] += 1
            log.exception("traffic aggregate not recorded")

    def _start_worker(self) -> None:
        with self._lock:
            if self._worker is None:
                self._worker = threading.Thread(target=self._run, name="traffic-flush", daemon=True)
                self._worker.start()

    def _run(self) -> None:
        while not self._stop.wait(self.flush_seconds):
            self.flush()

    def pending(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {bucket: dict(counts) for bucket, counts in self._pending.items()}

    def flush(self) -> bool:
        """Add the counts so far to the store now; False (counts kept) when the store failed."""
        with self._flush_lock:
            with self._lock:
                pending, self._pending = self._pending, {}
            if not pending:
                return True
            try:
                self.store.add(pending)
            except Exception as exc:  # noqa: BLE001 - any store failure: keep the counts, retry later
                self.events["flush_failed"] += 1
                log.warning("traffic aggregates not flushed (kept for the next flush): %s: %s",
                            type(exc).__name__, str(exc)[:300])
                with self._lock:
                    for bucket, counts in pending.items():
                        self._pending.setdefault(bucket, Counter()).update(counts)
                    for bucket in sorted(self._pending)[:-MAX_PENDING_HOURS]:
                        del self._pending[bucket]
                        self.events["hours_dropped"] += 1
                return False
            self.events["flushed"] += 1
            return True

    def close(self) -> None:
        """Stop the flushing thread and flush what is left."""
        self._stop.set()
        if self._worker is not None:
            self._worker.join(timeout=5)
        self.flush()
