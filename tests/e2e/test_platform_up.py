"""``healthcare-ai up`` / ``smoke`` / ``down`` for real, as ``make up`` runs them, on both profiles.

Each test brings the whole platform up on a fresh data root and free ports: the MLflow UI, one real
run of the training DAG, Airflow's API server, scheduler and DAG processor, and the assistant. The
smoke command then proves all three answer through their public APIs (Airflow's REST API shows the
DAG run succeeded, MLflow's shows the production alias, the assistant answers with that version),
and ``down`` leaves no process and no port behind.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CLI = str(Path(sys.executable).with_name("healthcare-ai"))
PORTS = ("CAREASSIST_API_PORT", "CAREASSIST_MLFLOW_PORT", "CAREASSIST_AIRFLOW_PORT")


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def cli(environment: dict[str, str], *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args], env=environment, capture_output=True, text=True, timeout=timeout, check=False)


def _show(done: subprocess.CompletedProcess[str]) -> str:
    return f"exit {done.returncode}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"


def up_smoke_down(environment: dict[str, str], root: Path) -> None:
    ports = [int(environment[name]) for name in PORTS]
    try:
        started = cli(environment, "up")
        assert started.returncode == 0, _show(started)
        print(started.stdout)
        for port in ports:
            assert f"127.0.0.1:{port}" in started.stdout
        access_path = root / "run" / "access.json"
        access = json.loads(access_path.read_text())
        assert stat.S_IMODE(access_path.stat().st_mode) == 0o600
        assert access["airflow"]["password"] and f"login admin / {access['airflow']['password']}" in started.stdout
        assert access["assistant"]["api_key"] in started.stdout

        smoke = cli(environment, "smoke", timeout=120)
        print(smoke.stdout)
        assert smoke.returncode == 0, _show(smoke)
        assert [line.split()[:2] for line in smoke.stdout.splitlines()] == [
            ["PASS", "airflow"], ["PASS", "mlflow"], ["PASS", "assistant"]]
        assert "training_pipeline run" in smoke.stdout and "is success" in smoke.stdout

        status = cli(environment, "status", timeout=120)
        print(status.stdout)
        assert status.returncode == 0 and status.stdout.count("healthy") == 3 and status.stdout.count("running") == 2

        again = cli(environment, "up", "--no-pipeline")
        assert again.returncode == 0, _show(again)
        assert again.stdout.count("already running") == 5
    finally:
        stopped = cli(environment, "down", timeout=300)
    assert stopped.returncode == 0, _show(stopped)
    assert stopped.stdout.count(": stopped") == 5, stopped.stdout
    assert not any(_listening(port) for port in ports)
    assert not list((root / "run").glob("*.pid"))


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[tuple[dict[str, str], Path]]:
    root = tmp_path / "platform"
    environment = dict(os.environ) | {"CAREASSIST_PROFILE": "embedded", "CAREASSIST_DATA_ROOT": str(root)}
    environment |= dict(zip(PORTS, map(str, _free_ports(3)), strict=True))
    yield environment, root


def test_make_up_on_the_embedded_profile_serves_all_three_and_make_down_stops_them(embedded) -> None:  # type: ignore[no-untyped-def]
    environment, root = embedded
    up_smoke_down(environment, root)


@pytest.fixture
def production(tmp_path: Path, postgres_url: str, redis_url: str, s3_endpoint: str) -> Iterator[tuple[dict[str, str], Path]]:
    import boto3

    suffix = uuid.uuid4().hex[:8]
    bucket = f"stack-{suffix}"
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
    root = tmp_path / "platform"
    api, mlflow, airflow = _free_ports(3)
    environment = dict(os.environ) | {
        "CAREASSIST_PROFILE": "production",
        "CAREASSIST_DATA_ROOT": str(root),
        "CAREASSIST_DATABASE_URL": postgres_url,
        "CAREASSIST_REDIS_URL": redis_url,
        "CAREASSIST_S3_ENDPOINT_URL": s3_endpoint,
        "CAREASSIST_S3_BUCKET": bucket,
        "CAREASSIST_RAW_URI": f"s3://{bucket}/raw",
        "CAREASSIST_AIRFLOW_DATABASE": f"t_airflow_{suffix}",
        "CAREASSIST_MLFLOW_DATABASE": f"t_mlflow_{suffix}",
        "CAREASSIST_FEAST_DATABASE": f"t_feast_{suffix}",
        # Clients register through the tracking server, which alone writes artifacts to S3.
        "CAREASSIST_MLFLOW_URI": f"http://127.0.0.1:{mlflow}",
        "CAREASSIST_API_PORT": str(api),
        "CAREASSIST_MLFLOW_PORT": str(mlflow),
        "CAREASSIST_AIRFLOW_PORT": str(airflow),
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    yield environment, root
    connection = psycopg2.connect(f"{postgres_url}/postgres")
    connection.autocommit = True
    with connection.cursor() as cursor:
        for name in ("airflow", "mlflow", "feast"):
            cursor.execute(f'DROP DATABASE IF EXISTS "t_{name}_{suffix}" WITH (FORCE)')
    connection.close()


@pytest.mark.integration
def test_make_up_on_the_production_profile_uses_postgresql_redis_and_s3(production) -> None:  # type: ignore[no-untyped-def]
    environment, root = production
    up_smoke_down(environment, root)
