"""serving/workers.py: the connection table shared across fork, the accept rule, the worker's view of
it, and the settled heap."""

from __future__ import annotations

import gc
import logging
import os
import re
import time
import weakref
from typing import Any

import pytest

from serving import workers
from serving.workers import ConnectionTable, may_accept, settle_heap

pytestmark = pytest.mark.unit


def test_a_worker_accepts_unless_it_holds_more_than_slack_above_its_least_loaded_peer() -> None:
    assert may_accept(0, []) and may_accept(500, [])  # alone: always
    assert may_accept(12, [10, 40], slack=2)
    assert not may_accept(13, [10, 40], slack=2)
    assert may_accept(3, [50], slack=2)  # the lighter worker always takes more


def test_the_table_reports_live_peers_only_and_forgets_a_released_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [10**12]
    monkeypatch.setattr(time, "monotonic_ns", lambda: clock[0])
    table = ConnectionTable(slots=4)
    table.claim(0, pid=100)
    table.claim(1, pid=101)
    table.claim(2, pid=102)
    for slot, connections in ((0, 7), (1, 3), (2, 9)):
        table.publish(slot, connections)
    assert sorted(table.live_peers(0)) == [3, 9]  # never its own row

    clock[0] += workers.STALE_NS - 1
    table.tick(1)
    assert sorted(table.live_peers(0)) == [3, 9]  # not stale yet
    clock[0] += 1
    assert table.live_peers(0) == [3]  # row 2 has not ticked for STALE_NS: left out

    table.release(101)
    assert table.live_peers(0) == []
    table.claim(1, pid=103)  # a new worker in the slot starts from no connections
    assert table.live_peers(0) == [0]


def test_the_table_is_shared_with_a_forked_worker() -> None:
    table = ConnectionTable(slots=2)
    table.claim(0, pid=os.getpid())
    child = os.fork()
    if child == 0:  # the worker: claims its row and publishes, as a gunicorn worker does
        try:
            table.claim(1, pid=os.getpid())
            table.publish(1, 42)
        finally:
            os._exit(0)
    _, status = os.waitpid(child, 0)
    assert status == 0
    assert table.live_peers(0) == [42]


class _Log:
    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


def _worker(table: ConnectionTable, monkeypatch: pytest.MonkeyPatch, age: int) -> workers.BalancedThreadWorker:
    from gunicorn.config import Config

    monkeypatch.setattr(workers, "TABLE", table)
    worker = workers.BalancedThreadWorker(age, os.getppid(), [], None, 30, Config(), _Log())
    # What init_process does before gthread's loop starts.
    worker._slot = age % table.slots
    table.claim(worker._slot, os.getpid())
    return worker


def test_the_worker_stops_polling_the_listener_while_it_holds_more_than_its_share(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    table = ConnectionTable(slots=4)
    table.claim(3, pid=999_999)  # a live peer holding 10 connections
    table.publish(3, 10)
    worker = _worker(table, monkeypatch, age=1)
    limit = worker.cfg.worker_connections
    assert worker.worker_connections == limit  # gthread's own limit while the worker is behind

    worker.nr_conns += 12  # gthread counts its connections through this attribute
    assert table.live_peers(3) == [12]  # published for the peers
    assert worker.worker_connections == limit
    worker.nr_conns += 1
    assert worker.nr_conns == 13 and worker.worker_connections == 0  # gthread accepts while nr_conns < this

    table.publish(3, 11)  # the peer caught up
    assert worker.worker_connections == limit
    table.release(999_999)  # the peer is gone: accept everything
    table.publish(1, 500)
    worker.nr_conns = 500
    assert worker.worker_connections == limit


def test_settling_frees_old_garbage_then_freezes_what_is_alive(caplog: pytest.LogCaptureFixture) -> None:
    class Node:
        pass

    garbage = Node()
    garbage.me = garbage  # type: ignore[attr-defined]  # a cycle: only the collector frees it
    gone = weakref.ref(garbage)
    del garbage
    kept = Node()
    try:
        gc.disable()  # no collection but the settling one
        with caplog.at_level(logging.INFO, logger="careassist.serving"):
            settle_heap("a test")
        assert gone() is None
        frozen = gc.get_freeze_count()
        assert frozen > 0 and not any(obj is kept for obj in gc.get_objects())  # out of the collector's walk
        assert re.search(r"heap settled \(a test\): \d+ objects frozen in \d+ ms", caplog.text)

        # A later settling (a new model) unfreezes first: a cycle frozen earlier is freed.
        late = Node()
        late.me = late  # type: ignore[attr-defined]
        late_ref = weakref.ref(late)
        settle_heap("again")
        del late
        settle_heap("once more")
        assert late_ref() is None
    finally:
        gc.unfreeze()
        gc.enable()
