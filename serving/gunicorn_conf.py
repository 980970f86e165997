"""gunicorn settings of the assistant service; every value can be overridden by GUNICORN_* variables.

The worker class is gthread with the connections shared fairly between workers and the heap settled
once the model is loaded (``serving/workers.py`` says why each matters).

Two workers match the two cores of the reference machine. Keep-alive connections wait in each
worker's poller, not in a thread, so a few threads per worker suffice: an answer is CPU work under
the GIL, and more threads only queue for it (``make bench-serve`` with 100 connections: 32 threads
served fewer requests than 4, at a worse p99). Raise GUNICORN_THREADS where Redis round trips are
slow. Metrics of all workers are merged through PROMETHEUS_MULTIPROC_DIR (set by ``make serve``).
"""

from __future__ import annotations

import multiprocessing
import os

_host = os.environ.get("CAREASSIST_API_HOST", "127.0.0.1")
_port = os.environ.get("CAREASSIST_API_PORT", "8000")

bind = os.environ.get("GUNICORN_BIND", f"{_host}:{_port}")
workers = int(os.environ.get("GUNICORN_WORKERS", str(min(2, multiprocessing.cpu_count()))))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "serving.workers.BalancedThreadWorker")
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
backlog = 2048
keepalive = 30
# Longer than CAREASSIST_MODEL_START_TIMEOUT_SECONDS (25 s): a worker loads its model before it accepts.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 20
# Huge headers are refused by gunicorn itself (431-like 400) before Flask sees them.
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
accesslog = None  # the service logs structured JSON itself, without message text
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "warning")
preload_app = False


def post_worker_init(worker):  # type: ignore[no-untyped-def]
    """The app is built and its model loaded: settle the heap before the first request."""
    from serving.workers import settle_heap

    settle_heap("worker started")


def child_exit(server, worker):  # type: ignore[no-untyped-def]
    """A worker's connections and gauges leave the shared table and the merged metrics with it."""
    from serving.workers import release_worker

    release_worker(worker.pid)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
