"""The assistant service's Prometheus metrics: one registry per app, never any message text.

Labels are closed sets (endpoint names, categories of the taxonomy, outcomes), so a caller cannot
grow the series count. Under gunicorn with ``PROMETHEUS_MULTIPROC_DIR`` set, values of every worker
are collected from that folder (prometheus_client's multiprocess mode).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import multiprocess as _multiprocess

#: Seconds; from a cache hit (well under a millisecond in process) to a slow outlier.
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(frozen=True)
class ServiceMetrics:
    """The service's metric families, registered on ``registry``."""

    registry: CollectorRegistry
    latency: Histogram
    requests: Counter
    answers: Counter
    crisis: Counter
    quality_fallbacks: Counter
    cache: Counter
    model_info: Gauge
    model_loaded: Gauge
    dependency_up: Gauge
    degraded_events: Counter
    #: Whether values live in PROMETHEUS_MULTIPROC_DIR files (decided when prometheus_client was
    #: imported, not by the variable now: Feast's import sets it for its own use).
    multiprocess: bool = False
    models_seen: set[tuple[str, str, str]] = field(default_factory=set)
    #: The serving model and when it was loaded (one entry; a mutable holder in a frozen dataclass).
    serving: dict[tuple[str, str, str], float] = field(default_factory=dict)

    def render(self) -> bytes:
        """The text exposition of every family (all workers' values in multiprocess mode)."""
        if self.multiprocess and os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            _multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return bytes(generate_latest(registry))
        return bytes(generate_latest(self.registry))

    def set_model(self, name: str, version: str, alias: str, loaded_at: float | None = None) -> None:
        """The serving model's series is 1, those of versions served before 0 (multiprocess mode
        cannot remove series); ``careassist_model_loaded_timestamp_seconds`` says since when it
        serves: ``loaded_at`` (seconds since the epoch) or, when not given, the first call that
        named this model after another one (a staleness alert compares it with ``time()``)."""
        current = (name, version, alias)
        for labels in self.models_seen - {current}:
            self.model_info.labels(*labels).set(0)
        self.models_seen.add(current)
        self.model_info.labels(*current).set(1)
        if loaded_at is None:
            loaded_at = self.serving[current] if current in self.serving else time.time()
        self.serving.clear()
        self.serving[current] = loaded_at
        self.model_loaded.set(loaded_at)

    def set_dependency(self, dependency: str, up: bool) -> None:
        self.dependency_up.labels(dependency=dependency).set(1 if up else 0)


def create_metrics() -> ServiceMetrics:
    """Fresh metric families on their own registry (one per app, so tests never collide)."""
    from prometheus_client import values

    registry = CollectorRegistry(auto_describe=True)
    kwargs: dict[str, Any] = {"registry": registry}
    return ServiceMetrics(
        multiprocess=values.ValueClass is not values.MutexValue,
        registry=registry,
        latency=Histogram(
            "careassist_request_seconds",
            "Request latency by endpoint and whether the answer came from the cache.",
            ["endpoint", "cached"],
            buckets=LATENCY_BUCKETS,
            **kwargs,
        ),
        requests=Counter(
            "careassist_requests", "Requests by endpoint and status code.", ["endpoint", "status"], **kwargs
        ),
        answers=Counter(
            "careassist_answers", "Answers by category and outcome (classified, out_of_scope, crisis...).",
            ["category", "reason"], **kwargs,
        ),
        crisis=Counter(
            "careassist_crisis_detections", "Crisis messages by the layer that flagged them.", ["layer"], **kwargs
        ),
        quality_fallbacks=Counter(
            "careassist_quality_fallbacks", "Answers replaced by the safe generic answer by the quality validator.",
            **kwargs,
        ),
        cache=Counter("careassist_cache", "Cache lookups by result (hit, miss, error, bypass).", ["result"], **kwargs),
        model_info=Gauge(
            "careassist_model_info", "The model version being served (value 1).", ["name", "version", "alias"],
            multiprocess_mode="liveall", **kwargs,
        ),
        model_loaded=Gauge(
            "careassist_model_loaded_timestamp_seconds",
            "When the serving model version was loaded or swapped in (seconds since the epoch).",
            multiprocess_mode="livemax", **kwargs,
        ),
        dependency_up=Gauge(
            "careassist_dependency_up", "1 when a dependency (registry, cache, feature_store) is healthy.",
            ["dependency"], multiprocess_mode="liveall", **kwargs,
        ),
        degraded_events=Counter(
            "careassist_degraded_events", "Requests served with a dependency degraded, by dependency.",
            ["dependency"], **kwargs,
        ),
    )
