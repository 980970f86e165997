"""Session context for the service: reads from the online feature store, pushes activity back.

A read is on the request path and never fails it (defaults, counted). A push runs on a background
thread from a bounded queue, so a slow or absent online store never delays an answer; when the
queue is full the activity is dropped and counted. Only the category and the crisis flag travel,
never the message. The Feast client is built lazily on the worker (Feast's import takes seconds)
and retried when the feature store is not there yet.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from careassist.features import SessionFeatureClient
    from careassist.settings import Settings

log = logging.getLogger(__name__)

#: Pushes waiting at most; beyond this the newest activity is dropped (and counted).
QUEUE_SIZE = 10_000
#: Seconds between attempts to build the Feast client while the feature store is unavailable.
RETRY_SECONDS = 30.0


class SessionContextService:
    """``get`` a session's features (defaults when unknown or degraded); ``push_later`` its activity."""

    def __init__(self, settings: Settings, *, client: SessionFeatureClient | None = None, start: bool = True) -> None:
        self.settings = settings
        self._client = client
        self._queue: queue.Queue[tuple[str, str, bool, datetime] | None] = queue.Queue(QUEUE_SIZE)
        self._lock = threading.Lock()
        self._next_attempt = 0.0
        self.events: Counter[str] = Counter()
        self._last_error = ""
        self._worker: threading.Thread | None = None
        if start:
            self._worker = threading.Thread(target=self._run, name="session-push", daemon=True)
            self._worker.start()

    # -- reads -------------------------------------------------------------------------------
    def client(self) -> SessionFeatureClient | None:
        """The Feast client, built on first use; None (and retried later) while it cannot be."""
        if self._client is not None:
            return self._client
        with self._lock:
            if self._client is None and time.monotonic() >= self._next_attempt:
                from careassist.features import SessionFeatureClient

                try:
                    self._client = SessionFeatureClient(self.settings)
                except Exception as exc:  # noqa: BLE001 - any failure degrades to defaults
                    self._next_attempt = time.monotonic() + RETRY_SECONDS
                    self._last_error = f"{type(exc).__name__}: {exc}"[:300]
                    self.events["client_unavailable"] += 1
                    log.warning("session features unavailable (retry in %.0f s): %s", RETRY_SECONDS, self._last_error)
        return self._client

    def get(self, session_id: str) -> dict[str, Any]:
        """The session's features; an empty dict (the caller's defaults) when there is no client."""
        client = self._client if self._client is not None else None
        if client is None:
            # Never build the client on the request path: the worker does it.
            self.events["read_without_client"] += 1
            return {}
        return client.get(session_id)

    def status(self) -> str:
        client = self._client
        if client is None or self._queue.full():
            return "degraded"
        return "ok"

    def describe(self) -> dict[str, Any]:
        client = self._client
        return {
            "status": self.status(),
            "events": dict(self.events),
            "client_degraded": {} if client is None else dict(client.degraded_reasons),
            "queued": self._queue.qsize(),
            "last_error": self._last_error,
        }

    # -- pushes ------------------------------------------------------------------------------
    def push_later(self, session_id: str, category: str, crisis: bool) -> None:
        """Queue one message's activity for the online store; never blocks."""
        try:
            self._queue.put_nowait((session_id, category, crisis, datetime.now(UTC)))
        except queue.Full:
            self.events["push_dropped"] += 1

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until queued pushes are done (tests, shutdown); False on timeout."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self._queue.unfinished_tasks

    def close(self) -> None:
        if self._worker is not None:
            self._queue.put(None)
            self._worker.join(timeout=5)

    def _run(self) -> None:
        self.client()
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                client = self.client()
                if client is None:
                    self.events["push_without_client"] += 1
                    continue
                session_id, category, crisis, at = item
                self.events["pushed" if client.push(session_id, category, crisis, at) else "push_failed"] += 1
            except Exception:
                self.events["push_failed"] += 1
                log.exception("session push failed")
            finally:
                self._queue.task_done()
