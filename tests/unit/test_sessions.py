"""Session context for the service: reads never fail a request, pushes never wait for the store."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime
from typing import Any

import pytest

from careassist import sessions
from careassist.sessions import SessionContextService
from careassist.settings import Settings


class FakeClient:
    def __init__(self, *, fail_push: bool = False, block: threading.Event | None = None) -> None:
        self.pushed: list[tuple[str, str, bool, datetime]] = []
        self.fail_push = fail_push
        self.block = block
        self.degraded_reasons: Counter[str] = Counter()

    def get(self, session_id: str) -> dict[str, Any]:
        return {"crisis_flags_7d": 1 if session_id == "had-crisis" else 0, "messages_24h": 3}

    def push(self, session_id: str, category: str, crisis: bool, at: datetime) -> bool:
        if self.block is not None:
            self.block.wait(5)
        if self.fail_push:
            raise RuntimeError("online store down")
        self.pushed.append((session_id, category, crisis, at))
        return True


def test_reads_come_from_the_client_and_pushes_carry_no_text(settings: Settings) -> None:
    client = FakeClient()
    service = SessionContextService(settings, client=client)  # type: ignore[arg-type]
    assert service.get("had-crisis")["crisis_flags_7d"] == 1
    service.push_later("s-1", "fall_prevention", False)
    service.push_later("s-1", "crisis", True)
    assert service.flush()
    assert [(s, c, f) for s, c, f, _ in client.pushed] == [("s-1", "fall_prevention", False), ("s-1", "crisis", True)]
    assert all(at.tzinfo is not None for *_, at in client.pushed)
    assert service.status() == "ok" and service.events["pushed"] == 2
    service.close()


def test_a_failing_push_is_counted_and_the_worker_goes_on(settings: Settings) -> None:
    client = FakeClient(fail_push=True)
    service = SessionContextService(settings, client=client)  # type: ignore[arg-type]
    service.push_later("s-1", "fall_prevention", False)
    assert service.flush()
    client.fail_push = False
    service.push_later("s-2", "nutrition_wellness", False)
    assert service.flush()
    assert service.events["push_failed"] == 1 and service.events["pushed"] == 1
    service.close()


def test_a_full_queue_drops_and_counts_instead_of_blocking(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sessions, "QUEUE_SIZE", 2)
    gate = threading.Event()
    service = SessionContextService(settings, client=FakeClient(block=gate))  # type: ignore[arg-type]
    for n in range(6):
        service.push_later(f"s-{n}", "senior_care", False)
    assert service.events["push_dropped"] >= 3
    assert service.status() == "degraded"
    gate.set()
    assert service.flush()
    service.close()


def test_without_a_feature_store_reads_give_defaults_and_the_status_is_degraded(settings: Settings) -> None:
    # Nothing applied under this data root: the Feast client cannot be built; the request path
    # still gets an answer (the caller's defaults) and never builds the client itself.
    service = SessionContextService(settings, start=False)
    assert service.get("s-1") == {}
    assert service.client() is None
    assert service.status() == "degraded"
    assert service.events["client_unavailable"] == 1 and service.describe()["last_error"]
    # Not retried on every call: the next attempt waits RETRY_SECONDS.
    assert service.client() is None and service.events["client_unavailable"] == 1
