"""The real MLflow tracking server, started as the operators start it, for both profiles.

Each test starts ``mlflow server`` on a free loopback port, logs a run with a metric and an artifact
through HTTP only, reads the artifact back and finds it in the artifact destination (a local folder,
or the moto bucket): the client never touched the store, so the artifacts were proxied.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import psutil
import psycopg2
import pytest

from careassist import mlflow_server
from careassist.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60.0
ARTIFACT = b"proxied through the tracking server\n"


@pytest.fixture(autouse=True)
def _quiet_client(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test's own MLflow client sends no telemetry and draws no progress bars."""
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def job_workers(pid: int) -> list[str]:
    """Command lines of the descendants of ``pid`` that are MLflow job runners or Huey consumers."""
    found = []
    for child in psutil.Process(pid).children(recursive=True):
        try:
            line = " ".join(child.cmdline())
        except psutil.NoSuchProcess:
            continue
        if "mlflow.server.jobs" in line or "huey" in line:
            found.append(line)
    return found


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start a server process in its own process group; the group is always terminated afterwards."""
    started: list[subprocess.Popen[bytes]] = []

    def start(settings: Settings, command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = tmp_path / f"server-{len(started)}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                command, env=env, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        started.append(process)
        try:
            mlflow_server.wait_until_ready(mlflow_server.server_url(settings), START_TIMEOUT, process=process)
        except mlflow_server.MlflowServerError as exc:
            pytest.fail(f"{exc}\n--- server log ---\n{log.read_text(errors='replace')[-4000:]}")
        return process

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


def log_run_and_read_back(url: str, folder: Path) -> tuple[str, str, str]:
    """Through ``url`` only: an experiment, a run with a metric and an artifact; the artifact read
    back. Returns the experiment id, the run id and the run's artifact URI."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=url)
    experiment_id = client.create_experiment(f"server-test-{uuid.uuid4().hex[:8]}")
    run = client.create_run(experiment_id)
    run_id = run.info.run_id
    client.log_metric(run_id, "macro_f1", 0.91)
    note = folder / "note.txt"
    note.write_bytes(ARTIFACT)
    client.log_artifact(run_id, str(note), artifact_path="notes")
    client.set_terminated(run_id)

    stored = client.get_run(run_id)
    assert stored.data.metrics == {"macro_f1": 0.91}
    assert [f.path for f in client.list_artifacts(run_id, "notes")] == ["notes/note.txt"]
    downloaded = client.download_artifacts(run_id, "notes/note.txt", str(folder / "download"))
    assert Path(downloaded).read_bytes() == ARTIFACT
    return experiment_id, run_id, stored.info.artifact_uri


def test_embedded_server_keeps_runs_in_sqlite_and_proxies_artifacts_to_the_data_root(
    make_settings: Callable[..., Settings], launch: Callable[..., subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    settings = make_settings(mlflow_port=free_port())
    # The operator's environment cannot switch job workers back on: the settings-derived value wins.
    env = {**os.environ, **settings.environment(), "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "true"}
    server = launch(settings, ["bash", str(REPO / "mlflow" / "start.sh")], env)

    experiment_id, run_id, artifact_uri = log_run_and_read_back(mlflow_server.server_url(settings), tmp_path)

    assert artifact_uri == f"mlflow-artifacts:/{experiment_id}/{run_id}/artifacts"
    landed = Path(settings.artifacts_location, experiment_id, run_id, "artifacts", "notes", "note.txt")
    assert landed.read_bytes() == ARTIFACT
    assert (settings.root / "mlflow" / "mlflow.db").is_file()
    assert job_workers(server.pid) == []


def test_production_server_keeps_runs_in_postgres_and_proxies_artifacts_to_s3(
    production: Settings, launch: Callable[..., subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    # A bucket and a database that do not exist yet: starting the server creates both.
    settings = production.model_copy(
        update={"mlflow_port": free_port(), "s3_bucket": f"mlflow-{uuid.uuid4().hex[:12]}"}
    )
    env = {**os.environ, **settings.environment()}
    server = launch(settings, [sys.executable, "-m", "careassist.mlflow_server"], env)

    experiment_id, run_id, artifact_uri = log_run_and_read_back(mlflow_server.server_url(settings), tmp_path)

    assert artifact_uri == f"mlflow-artifacts:/{experiment_id}/{run_id}/artifacts"
    s3 = boto3.client("s3", endpoint_url=settings.s3_endpoint_url, region_name=settings.s3_region)
    key = f"mlflow-artifacts/{experiment_id}/{run_id}/artifacts/notes/note.txt"
    assert s3.get_object(Bucket=settings.s3_bucket, Key=key)["Body"].read() == ARTIFACT
    connection = psycopg2.connect(settings.mlflow_backend_uri)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT key, value FROM metrics WHERE run_uuid = %s", (run_id,))
            assert cursor.fetchall() == [("macro_f1", 0.91)]
    finally:
        connection.close()
    assert job_workers(server.pid) == []


def test_the_job_worker_check_sees_job_workers_when_mlflow_starts_them(
    make_settings: Callable[..., Settings], launch: Callable[..., subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    """Control for the assertions above: with job execution on (MLflow's default) the runner exists."""
    settings = make_settings(mlflow_port=free_port())
    mlflow_server.prepare_stores(settings)
    env = {**os.environ, **mlflow_server.server_environment(settings), "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "true"}
    server = launch(settings, mlflow_server.server_command(settings), env)
    assert any("mlflow.server.jobs" in line for line in job_workers(server.pid))
