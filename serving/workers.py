"""gunicorn's thread worker with connections shared fairly between the workers, and a settled heap.

**Balance.** Every gthread worker polls the one listening socket, and whichever worker's main thread
wakes first accepts. Under a burst of new keep-alive connections (a load balancer's pool, a load
test) one worker often takes all of them: ``make bench-serve`` saw all 100 connections on one of two
workers in half of its runs, which halves the throughput and doubles every latency, while the other
core idles. Capping ``worker_connections`` balances them but closes keep-alive connections and makes
new clients queue. Here each worker publishes its open connections in a table that the master
creates before forking; a worker holding more than ``SLACK`` connections above its least-loaded live
peer stops polling the listener until the others catch up. A peer counts as live while its main loop
ticks (at least once a second); a stuck or dead worker's row is ignored, so the others never wait on
it (the master also clears a dead worker's row).

**Heap.** A worker holds several hundred thousand long-lived objects (the model's vocabularies,
imported libraries). Python's full collections walk all of them: 250-310 ms pauses, one every few
tens of thousands of requests, each one a 300 ms stall of every connection of that worker.
``settle_heap`` moves what is alive once the model is loaded into the permanent generation
(``gc.freeze``), where the collector no longer walks it; a full collection then takes about 2 ms.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import mmap
import os
import time
from typing import Any

from gunicorn.workers.gthread import ThreadWorker

log = logging.getLogger("careassist.serving")

#: Rows of the connection table (at most this many workers are balanced; more are simply not).
SLOTS = 64
#: How many connections a worker may hold above its least-loaded live peer and still accept.
SLACK = 2
#: A peer whose main loop has not ticked for this long is left out (stuck, dying or gone).
STALE_NS = 3_000_000_000
_PID, _CONNECTIONS, _TICK = range(3)


class ConnectionTable:
    """Per worker: pid, open connections and last tick (monotonic ns), in memory shared across fork.

    One process writes a row (its worker; the master clears the row of a dead worker); everyone
    reads every row. Aligned 64-bit stores are atomic, so a reader sees an old or a new value.
    """

    def __init__(self, slots: int = SLOTS) -> None:
        self.slots = slots
        self._memory = mmap.mmap(-1, slots * 3 * 8)  # anonymous and MAP_SHARED: shared with children
        self._rows = (ctypes.c_int64 * (slots * 3)).from_buffer(self._memory)

    def claim(self, slot: int, pid: int) -> None:
        base = slot * 3
        self._rows[base + _CONNECTIONS] = 0
        self._rows[base + _TICK] = time.monotonic_ns()
        self._rows[base + _PID] = pid

    def release(self, pid: int) -> None:
        for slot in range(self.slots):
            if self._rows[slot * 3 + _PID] == pid:
                self._rows[slot * 3 + _PID] = 0
                self._rows[slot * 3 + _CONNECTIONS] = 0

    def publish(self, slot: int, connections: int) -> None:
        self._rows[slot * 3 + _CONNECTIONS] = connections

    def tick(self, slot: int) -> None:
        self._rows[slot * 3 + _TICK] = time.monotonic_ns()

    def live_peers(self, slot: int, now_ns: int | None = None) -> list[int]:
        """Open connections of every other live worker."""
        now_ns = time.monotonic_ns() if now_ns is None else now_ns
        rows = self._rows
        return [
            rows[other * 3 + _CONNECTIONS]
            for other in range(self.slots)
            if other != slot and rows[other * 3 + _PID] and now_ns - rows[other * 3 + _TICK] < STALE_NS
        ]


def may_accept(mine: int, peers: list[int], slack: int = SLACK) -> bool:
    """Whether a worker holding ``mine`` connections should take another, given its live peers'."""
    return not peers or mine <= min(peers) + slack


#: Created when gunicorn's master imports the worker class, before it forks any worker.
TABLE = ConnectionTable()


class BalancedThreadWorker(ThreadWorker):
    """``gthread`` that stops accepting while it holds more connections than its peers (see above)."""

    _slot: int | None = None
    _connections = 0
    _limit = 0

    # gthread counts connections in ``nr_conns`` and accepts while ``nr_conns < worker_connections``
    # (checked once per turn of its main loop); both are read through here.
    @property
    def nr_conns(self) -> int:
        return self._connections

    @nr_conns.setter
    def nr_conns(self, value: int) -> None:
        self._connections = value
        if self._slot is not None:
            TABLE.publish(self._slot, value)

    @property
    def worker_connections(self) -> int:
        if self._slot is None or may_accept(self._connections, TABLE.live_peers(self._slot)):
            return self._limit
        return 0  # nr_conns < 0 is never true: the listener is left alone this turn

    @worker_connections.setter
    def worker_connections(self, value: int) -> None:
        self._limit = value

    def init_process(self) -> None:
        self._slot = self.age % TABLE.slots
        TABLE.claim(self._slot, os.getpid())
        super().init_process()

    def notify(self) -> None:
        super().notify()
        if self._slot is not None:
            TABLE.tick(self._slot)


def release_worker(pid: int) -> None:
    """In the master, when a worker has exited: its row no longer counts."""
    TABLE.release(pid)


def settle_heap(reason: str) -> float:
    """Collect once, then freeze what is alive (see the module's docstring); the seconds it took.

    Objects frozen by an earlier call are collected again first, so a replaced model is freed."""
    started = time.perf_counter()
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    took = time.perf_counter() - started
    log.info("heap settled (%s): %d objects frozen in %.0f ms", reason, gc.get_freeze_count(), took * 1e3)
    return took


def settle_on_install(source: Any) -> None:
    """Settle the heap again whenever ``source`` installs a model (a promotion or a rollback)."""
    source.on_install.append(lambda loaded: settle_heap(f"model version {loaded.version} installed"))
