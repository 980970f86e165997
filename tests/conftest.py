"""Shared fixtures: settings on a temporary data root, and the real services on loopback."""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from careassist.settings import Settings, load_settings

POSTGRES_URL = os.environ.get("CAREASSIST_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("CAREASSIST_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's CAREASSIST_* variables or real AWS credentials."""
    for name in list(os.environ):
        if name.startswith("CAREASSIST_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("GX_ANALYTICS_ENABLED", "False")
    from careassist import settings, storage

    settings.get_settings.cache_clear()
    storage._client.cache_clear()


@pytest.fixture
def make_settings(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Build settings rooted in a temporary folder; keyword arguments override fields."""

    def build(**overrides: object) -> Settings:
        values: dict[str, object] = {"data_root": tmp_path / "platform", "min_rows_per_category": 2}
        values.update(overrides)
        return load_settings(**values)

    return build


@pytest.fixture
def settings(make_settings) -> Settings:  # type: ignore[no-untyped-def]
    return make_settings()


def _reachable(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, port)) == 0


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server on a free loopback port, for the length of the test session."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_bucket(s3_endpoint: str) -> str:
    """A fresh, empty bucket on the moto server."""
    import boto3

    name = f"test-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(Bucket=name)
    return name


@pytest.fixture(scope="session")
def postgres_url() -> str:
    if not _reachable("127.0.0.1", 5432):
        pytest.fail("PostgreSQL is not running on 127.0.0.1:5432 (.ci/run starts it; see DEVELOPERS.md)")
    return POSTGRES_URL


@pytest.fixture(scope="session")
def redis_url() -> str:
    if not _reachable("127.0.0.1", 6379):
        pytest.fail("Redis is not running on 127.0.0.1:6379 (.ci/run starts it; see DEVELOPERS.md)")
    return REDIS_URL


class HealthEndpoint:
    """A loopback HTTP server answering GET ``path`` with ``status`` (404 elsewhere); it records the paths asked."""

    def __init__(self, path: str) -> None:
        self.path, self.status, self.requests = path, 200, list[str]()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                endpoint.requests.append(self.path)
                self.send_response(endpoint.status if self.path == endpoint.path else 404)
                self.end_headers()
                self.wfile.write(b"OK")

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Stop answering (the port is then closed); safe to call again."""
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def health_endpoint() -> Iterator[Callable[[str], HealthEndpoint]]:
    """Start loopback health endpoints, ``health_endpoint("/healthz")``; all stop after the test."""
    started: list[HealthEndpoint] = []

    def start(path: str) -> HealthEndpoint:
        started.append(HealthEndpoint(path))
        return started[-1]

    yield start
    for endpoint in started:
        endpoint.stop()
