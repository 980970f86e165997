"""The service under gunicorn follows a promotion and a rollback with no failed or mixed request.

Two small models are registered in an embedded registry; gunicorn (two workers, as configured for
the product) serves version 1 while client threads keep asking; version 2 is promoted, then rolled
back. Every request succeeds, and each worker moves from one version to the next, never back
and forth.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from careassist import lifecycle, registry, serve
from careassist.access import digest_key
from careassist.settings import Settings, load_settings

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

KEY = "e2e-service-key"
PASSED = {"gate_status": "passed", "gate_reasons": "[]"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _call(url: str, body: dict[str, Any] | None = None, timeout: float = 10) -> tuple[int, dict[str, Any], dict[str, str]]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Authorization": f"Bearer {KEY}",
                                                             "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}"), dict(exc.headers)


@pytest.fixture
def platform(tmp_path, monkeypatch: pytest.MonkeyPatch) -> Settings:  # type: ignore[no-untyped-def]
    import mlflow

    from careassist.corpus import load_seed_corpus
    from careassist.training import train_assistant

    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    settings = load_settings(
        data_root=tmp_path / "platform", api_key_hashes=digest_key(KEY), api_port=_free_port(),
        model_poll_seconds=0.5, rate_limit_per_minute=1_000_000,
    )
    corpus = load_seed_corpus()
    experiment = registry.ensure_experiment(settings, "service-swap")
    for rows in (40, 80):
        model = train_assistant(corpus.groupby("label").head(rows), candidates=["tfidf_mnb"]).model
        with mlflow.start_run(experiment_id=experiment):
            uri = registry.log_assistant_model(model)
        registry.register(uri, settings, tags=PASSED)
    lifecycle.promote(settings, 1, who="e2e", why="first release")
    return settings


@pytest.fixture
def service(platform: Settings) -> Iterator[str]:
    environment = serve.service_environment(platform)
    log = (platform.root / "gunicorn.log").open("wb")
    process = subprocess.Popen(serve.gunicorn_command(), env=environment, cwd=serve.REPO_ROOT,
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{platform.api_port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if _call(f"{url}/readyz", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            assert process.poll() is None, (platform.root / "gunicorn.log").read_text()[-3000:]
            time.sleep(0.2)
        else:
            pytest.fail("the service did not become ready: " + (platform.root / "gunicorn.log").read_text()[-3000:])
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        log.close()


def _wait_for(url: str, version: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    seen: Counter[str] = Counter()
    while time.monotonic() < deadline:
        # Both workers must have moved: ask until a run of answers all name the version.
        answers = [_call(f"{url}/v1/model")[1].get("version") for _ in range(20)]
        seen.update(answers)
        if set(answers) == {version}:
            return
        time.sleep(0.2)
    pytest.fail(f"the service did not move to version {version}: {seen}")


def test_a_promotion_and_a_rollback_are_followed_with_no_failed_or_mixed_request(
    platform: Settings, service: str
) -> None:
    results: list[tuple[int, str | None, float]] = []
    stop = threading.Event()

    def ask(n: int) -> None:
        i = 0
        while not stop.is_set():
            i += 1
            status, body, _ = _call(f"{service}/v1/assist", {"message": f"how do I help my dad stand up {n} {i % 7}"})
            results.append((status, (body.get("model") or {}).get("version"), time.monotonic()))

    # Every worker ready (each answers /readyz for itself) before the load starts, as a load
    # balancer's readiness probe would wait.
    _wait_for(service, "1")
    workers = [threading.Thread(target=ask, args=(n,)) for n in range(4)]
    for worker in workers:
        worker.start()
    try:
        lifecycle.promote(platform, 2, who="e2e", why="second release")
        _wait_for(service, "2")
        lifecycle.rollback(platform, who="e2e", why="back to the first")
        _wait_for(service, "1")
        time.sleep(0.5)
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=30)
    statuses = Counter(status for status, _, _ in results)
    versions = Counter(version for _, version, _ in results)
    assert statuses == Counter({200: len(results)}), statuses
    assert set(versions) == {"1", "2"} and len(results) > 100, versions
    ready = _call(f"{service}/readyz")[1]
    assert ready["model"]["version"] == "1" and ready["dependencies"]["registry"] == "ok"
    # Each worker settled its heap once started and again on each model it installed: version 2 once,
    # version 1 on the rollback (and once more if its first load outlasted the start timeout).
    log = (platform.root / "gunicorn.log").read_text()
    assert log.count("heap settled (worker started)") == 2, log[-3000:]
    assert log.count("heap settled (model version 2 installed)") == 2, log[-3000:]
    assert log.count("heap settled (model version 1 installed)") >= 2, log[-3000:]
