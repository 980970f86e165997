"""Under the product's gunicorn settings, a burst of keep-alive connections is shared between the
workers instead of landing on whichever worker wakes first (serving/workers.py)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections import Counter
from collections.abc import Iterator

import pytest

from careassist import serve
from serving.workers import SLACK

pytestmark = [pytest.mark.e2e]

CONNECTIONS = 40


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pid_over(sock: socket.socket) -> int:
    sock.sendall(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data or not data.split(b"\r\n\r\n", 1)[1]:
        chunk = sock.recv(4096)
        assert chunk, f"the connection closed: {data!r}"
        data += chunk
    return int(data.split(b"\r\n\r\n", 1)[1])


@pytest.fixture
def service(tmp_path) -> Iterator[int]:  # type: ignore[no-untyped-def]
    port = _free_port()
    environment = os.environ | {"GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": "2"}
    log = (tmp_path / "gunicorn.log").open("wb")
    command = [*serve.gunicorn_command()[:-1], "tests.e2e.pid_app:app"]
    process = subprocess.Popen(command, env=environment, cwd=serve.REPO_ROOT, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    try:
        # Ready when both workers have answered (each on a new connection).
        seen: set[int] = set()
        deadline = time.monotonic() + 60
        while len(seen) < 2:
            assert process.poll() is None, (tmp_path / "gunicorn.log").read_text()[-3000:]
            assert time.monotonic() < deadline, f"both workers never answered: {seen}"
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                    seen.add(_pid_over(sock))
            except OSError:
                time.sleep(0.2)
        yield port
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        log.close()


def test_a_burst_of_keep_alive_connections_is_shared_between_the_two_workers(service: int) -> None:
    for _ in range(3):  # three bursts, each after the previous one's connections closed
        sockets = [socket.create_connection(("127.0.0.1", service), timeout=10) for _ in range(CONNECTIONS)]
        try:
            by_worker = Counter(_pid_over(sock) for sock in sockets)
            # Every connection is kept alive: a second request goes to the worker that took it.
            assert Counter(_pid_over(sock) for sock in sockets) == by_worker
        finally:
            for sock in sockets:
                sock.close()
        assert len(by_worker) == 2, by_worker
        counts = sorted(by_worker.values())
        assert counts[1] - counts[0] <= 2 * SLACK + 2, by_worker
        time.sleep(0.5)  # the workers see the connections close
