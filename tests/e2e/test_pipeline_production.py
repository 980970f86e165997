"""The training DAG for real on the production profile, run by Airflow (``airflow dags test``).

Airflow's metadata, MLflow's backend store and Feast's registry live in databases of their own on
the machine's PostgreSQL; raw batches, datasets, offline features and model artifacts in a bucket
of moto's S3 server. The tests run in order on one platform and tell its story: a first run
serves a model, a re-run of the interval changes nothing, a worse candidate is rejected, a bad
batch fails the run, the registry going away mid-run leaves nothing aliased, an operator rolls back.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pandas as pd
import psycopg2
import pytest

from careassist import bootstrap, lifecycle, mlflow_server, registry
from careassist.orchestration import airflow_command, run_environment
from careassist.settings import Settings, load_settings
from careassist.storage import Location

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.slow]

FIRST = "2026-11-20T03:00:00+00:00"
LATER = "2026-11-21T03:00:00+00:00"
DAG_TIMEOUT = 600


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory, s3_endpoint: str, postgres_url: str, redis_url: str):  # type: ignore[no-untyped-def]
    """Production settings with unique databases and bucket; Airflow's schema migrated."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in _credentials().items():
            patch.setenv(name, value)
        suffix = uuid.uuid4().hex[:8]
        bucket = f"e2e-{suffix}"
        boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
        settings = load_settings(
            profile="production",
            data_root=tmp_path_factory.mktemp("platform"),
            database_url=postgres_url,
            redis_url=redis_url,
            s3_endpoint_url=s3_endpoint,
            s3_bucket=bucket,
            raw_uri=f"s3://{bucket}/raw",
            airflow_database=f"t_airflow_{suffix}",
            mlflow_database=f"t_mlflow_{suffix}",
            feast_database=f"t_feast_{suffix}",
            min_rows_per_category=2,
        )
        bootstrap.initialise(settings)
        migrate = subprocess.run(
            airflow_command(["db", "migrate"]),
            env=_environment(settings), capture_output=True, text=True, timeout=300, check=False,
        )
        assert migrate.returncode == 0, migrate.stderr[-3000:]
        yield settings
    connection = psycopg2.connect(f"{postgres_url}/postgres")
    connection.autocommit = True
    with connection.cursor() as cursor:
        for name in (settings.airflow_database, settings.mlflow_database, settings.feast_database):
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    connection.close()


@pytest.fixture(autouse=True)
def _quiet_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    for name, value in _credentials().items():
        monkeypatch.setenv(name, value)


def _credentials() -> dict[str, str]:
    return {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


def _environment(settings: Settings, **extra: str) -> dict[str, str]:
    # One code version for the story unless a test says otherwise (a commit made meanwhile is not one).
    environment = run_environment(settings) | _credentials() | {"CAREASSIST_GIT_COMMIT": "e2e-base"} | extra
    environment["MLFLOW_DISABLE_TELEMETRY"] = "true"
    return environment


def run_dag(settings: Settings, logical_date: str, **extra: str) -> subprocess.CompletedProcess[str]:
    """``airflow dags test training_pipeline <logical_date>`` with the platform's settings."""
    return subprocess.run(
        airflow_command(["dags", "test", "training_pipeline", logical_date]),
        env=_environment(settings, **extra),
        capture_output=True,
        text=True,
        timeout=DAG_TIMEOUT,
        check=False,
    )


def airflow_rows(settings: Settings, query: str, *params: Any) -> list[tuple[Any, ...]]:
    """Rows from Airflow's metadata database (in PostgreSQL)."""
    connection = psycopg2.connect(f"{settings.database_url}/{settings.airflow_database}")
    try:
        with connection.cursor() as cursor:
            cursor.execute(query, params)
            return list(cursor.fetchall())
    finally:
        connection.close()


def task_states(settings: Settings, logical_date: str) -> dict[str, str]:
    rows = airflow_rows(
        settings,
        "SELECT ti.task_id, ti.state FROM task_instance ti JOIN dag_run dr ON dr.run_id = ti.run_id"
        " AND dr.dag_id = ti.dag_id WHERE dr.dag_id = 'training_pipeline' AND dr.logical_date = %s",
        pd.Timestamp(logical_date).to_pydatetime(),
    )
    return {task: state for task, state in rows}


def run_state(settings: Settings, logical_date: str) -> str:
    rows = airflow_rows(
        settings,
        "SELECT state FROM dag_run WHERE dag_id = 'training_pipeline' AND logical_date = %s",
        pd.Timestamp(logical_date).to_pydatetime(),
    )
    assert len(rows) == 1, rows
    return str(rows[0][0])


def versions(settings: Settings) -> dict[int, registry.RegisteredVersion]:
    return {v.version: v for v in registry.list_versions(settings)}


def _tail(result: subprocess.CompletedProcess[str]) -> str:
    return (result.stdout + result.stderr)[-4000:]


# -- the story, in order ---------------------------------------------------------------------
def test_the_first_run_registers_promotes_and_serves_a_model_with_its_lineage(platform: Settings) -> None:
    result = run_dag(platform, FIRST)
    assert result.returncode == 0, _tail(result)
    assert run_state(platform, FIRST) == "success"
    assert set(task_states(platform, FIRST).values()) == {"success"}

    (version,) = versions(platform).values()
    assert sorted(version.aliases) == ["production", "staging"]
    assert version.gate_status == "passed" and version.complete
    for tag in ("dataset_version", "dataset_manifest_sha256", "validation_report_uri", "feature_service",
                "training_set_uri", "training_set_sha256", "training_cutoff", "git_commit", "airflow_run"):
        assert version.tags.get(tag), tag
    assert version.tags["training_cutoff"].startswith("2026-11-20T03:00:00")
    assert version.tags["airflow_run"].startswith("airflow:training_pipeline/")
    assert version.tags["validation_report_uri"].startswith(f"s3://{platform.s3_bucket}/")
    assert version.tags["training_set_uri"].startswith(f"s3://{platform.s3_bucket}/")
    assert float(version.tags["metric.test_macro_f1"]) > 0.85

    # The artifacts are in the bucket, with the evaluation report and the confusion-matrix plot.
    s3 = boto3.client("s3", endpoint_url=platform.s3_endpoint_url, region_name="us-east-1")
    keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=platform.s3_bucket,
                                                                              Prefix="mlflow-artifacts/")
            for o in page.get("Contents", [])]
    assert any(k.endswith("/assistant.skops") for k in keys)
    assert any(k.endswith(".png") and "confusion" in k for k in keys), keys
    assert any(k.endswith("gates/decision.json") for k in keys)
    assert any(k.endswith("lineage/manifest.json") for k in keys) and any(k.endswith("lineage/validation.json") for k in keys)

    # Loaded by alias as any MLflow user would, from PostgreSQL and S3.
    import mlflow

    registry.configure(platform)
    model = mlflow.pyfunc.load_model(f"models:/{platform.model_name}@production")
    texts = ["I want to end my life tonight", "Which exercises lower the risk of falling for older adults?",
             "Is it safe to take my blood pressure pills with grapefruit juice?"]
    out = model.predict(pd.DataFrame({"text": texts}))
    assert list(out["label"]) == ["crisis", "fall_prevention", "medication_management"]


def test_a_rerun_of_the_same_interval_gives_the_same_version(platform: Settings) -> None:
    before = versions(platform)
    result = run_dag(platform, FIRST)
    assert result.returncode == 0, _tail(result)
    assert versions(platform).keys() == before.keys()
    assert lifecycle.current(platform, "production") == min(before)
    assert [m.action for m in lifecycle.history(platform)] == ["stage", "promote"]


def test_a_worse_candidate_is_registered_rejected_with_reasons_and_gets_no_alias(platform: Settings) -> None:
    production = lifecycle.current(platform, "production")
    # New code (another commit) whose floor it cannot reach.
    result = run_dag(platform, LATER, CAREASSIST_GIT_COMMIT="e2e-worse-candidate", CAREASSIST_GATE_MIN_MACRO_F1="0.99")
    assert result.returncode == 0, _tail(result)
    states = task_states(platform, LATER)
    assert states["register"] == "success" and states["promote"] == "skipped"
    rejected = max(versions(platform).values(), key=lambda v: v.version)
    assert rejected.version != production
    assert rejected.gate_status == "rejected" and not rejected.aliases
    assert any("macro-F1" in reason and "0.99" in reason for reason in rejected.gate_reasons), rejected.gate_reasons
    assert lifecycle.current(platform, "production") == production


def test_a_bad_batch_fails_the_run_with_its_report_and_production_stays(platform: Settings) -> None:
    production, known = lifecycle.current(platform, "production"), versions(platform).keys()
    batch = Location(f"{platform.raw_location}/batch-bad", platform)
    batch.write_bytes("bad_batch.csv", b"text,label\nmy mom needs help,not_a_category\nhello,\n")
    try:
        result = run_dag(platform, "2026-11-22T03:00:00+00:00")
    finally:
        batch.delete()
    assert result.returncode != 0
    states = task_states(platform, "2026-11-22T03:00:00+00:00")
    assert states["ingest"] == "success" and states["validate"] == "failed"
    assert states["train"] in ("upstream_failed", None)
    assert "quarantine" in result.stdout + result.stderr
    assert versions(platform).keys() == known
    assert lifecycle.current(platform, "production") == production


class _Registry:
    """A loopback HTTP proxy in front of the MLflow server that goes down for good right after it
    has forwarded the creation of a model version: the registry disappears mid-registration."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.removeprefix("http://")
        self.down = threading.Event()
        self.trip_on_create = False
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _forward(self) -> None:
                if proxy.down.is_set():
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                connection = http.client.HTTPConnection(proxy.upstream, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                connection.request(self.command, self.path, body=body, headers=headers)
                response = connection.getresponse()
                payload = response.read()
                self.send_response(response.status)
                for key, value in response.getheaders():
                    if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                if proxy.trip_on_create and "model-versions/create" in self.path:
                    proxy.down.set()

            do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def tracking_server(platform: Settings, tmp_path: Path) -> Iterator[_Registry]:
    """The platform's MLflow server (PostgreSQL + proxied S3 artifacts) behind the faulty proxy."""
    served = platform.model_copy(update={"mlflow_port": _free_port()})
    log = (tmp_path / "mlflow.log").open("wb")
    process = subprocess.Popen(
        mlflow_server.server_command(served),
        env={**os.environ, **mlflow_server.server_environment(served), **_credentials()},
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        mlflow_server.wait_until_ready(mlflow_server.server_url(served), 90, process=process)
        proxy = _Registry(mlflow_server.server_url(served))
        yield proxy
        proxy.server.shutdown()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        log.close()


def test_the_registry_going_away_mid_run_fails_the_run_and_leaves_nothing_aliased(
    platform: Settings, tracking_server: _Registry
) -> None:
    production, known = lifecycle.current(platform, "production"), versions(platform).keys()
    through_proxy = platform.model_copy(update={"mlflow_uri": tracking_server.url})
    tracking_server.trip_on_create = True
    fast_failures = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}
    date = "2026-11-23T03:00:00+00:00"
    result = run_dag(through_proxy, date, CAREASSIST_GIT_COMMIT="e2e-registry-fault", **fast_failures)
    assert tracking_server.down.is_set()
    assert result.returncode != 0
    assert task_states(platform, date)["register"] == "failed"
    tries = airflow_rows(platform, "SELECT try_number FROM task_instance WHERE dag_id = 'training_pipeline'"
                         " AND task_id = 'register' AND run_id = (SELECT run_id FROM dag_run WHERE"
                         " dag_id = 'training_pipeline' AND logical_date = %s)", pd.Timestamp(date).to_pydatetime())
    assert tries[0][0] == 3  # the first try and its two retries

    now = versions(platform)
    (half,) = [now[v] for v in now.keys() - known]
    assert not half.complete and not half.aliases
    assert lifecycle.current(platform, "production") == production

    # The registry is back: the same interval runs again, registers completely and is promoted.
    tracking_server.trip_on_create = False
    tracking_server.down.clear()
    result = run_dag(through_proxy, date, CAREASSIST_GIT_COMMIT="e2e-registry-fault", **fast_failures)
    assert result.returncode == 0, _tail(result)
    promoted = lifecycle.current(platform, "production")
    assert promoted not in (production, half.version) and versions(platform)[promoted].complete
    assert not versions(platform)[half.version].aliases


def test_an_operator_rolls_production_back_in_one_step(platform: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    from careassist.cli import main

    stack = lifecycle.production_stack(platform)
    assert len(stack) >= 2, stack
    env = platform.environment() | {"CAREASSIST_ACTOR": "e2e-operator"}
    for name, value in env.items():
        os.environ[name] = value
    from careassist import settings as settings_module

    settings_module.get_settings.cache_clear()
    try:
        assert main(["model", "rollback", "--why", "complaints after the last promotion"]) == 0
        said = capsys.readouterr().out
        assert main(["model", "history", "--alias", "production", "--json"]) == 0
    finally:
        for name in env:
            os.environ.pop(name, None)
        settings_module.get_settings.cache_clear()
    assert f"{stack[-1]}" in said and f"{stack[-2]}" in said
    history = json.loads(capsys.readouterr().out)
    assert history[-1]["action"] == "rollback" and history[-1]["who"] == "e2e-operator"
    assert history[-1]["to_version"] == stack[-2]
    assert lifecycle.current(platform, "production") == stack[-2]
