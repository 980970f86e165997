"""The MLflow server's command, environment and start-up checks, without starting a server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from careassist.mlflow_server import (
    MlflowServerError,
    main,
    prepare_stores,
    server_command,
    server_environment,
    server_url,
    wait_until_ready,
)
from careassist.settings import Settings

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]


def option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def production_settings(make_settings) -> Settings:  # type: ignore[no-untyped-def]
    return make_settings(
        profile="production",
        database_url="postgresql://mlflow:s3cret@db.internal:5432",
        redis_url="redis://127.0.0.1:6379/0",
        s3_endpoint_url="http://minio.internal:9000",
        s3_bucket="platform-bucket",
        s3_region="eu-west-3",
    )


def test_embedded_command_serves_sqlite_and_proxies_the_local_artifacts(settings: Settings) -> None:
    command = server_command(settings)
    assert command[:4] == [sys.executable, "-m", "mlflow", "server"]
    assert option(command, "--host") == "127.0.0.1"
    assert option(command, "--port") == "5000"
    assert option(command, "--workers") == "1"
    assert option(command, "--backend-store-uri") == f"sqlite:///{settings.root / 'mlflow' / 'mlflow.db'}"
    assert "--serve-artifacts" in command
    assert option(command, "--artifacts-destination") == str(settings.root / "mlflow" / "artifacts")
    assert server_environment(settings) == {
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }


def test_production_command_serves_postgres_and_proxies_the_bucket(production_settings: Settings) -> None:
    command = server_command(production_settings)
    assert option(command, "--workers") == "2"
    assert option(command, "--backend-store-uri") == "postgresql://mlflow:s3cret@db.internal:5432/careassist_mlflow"
    assert option(command, "--artifacts-destination") == "s3://platform-bucket/mlflow-artifacts"
    env = server_environment(production_settings)
    assert env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false"
    assert env["MLFLOW_S3_ENDPOINT_URL"] == "http://minio.internal:9000"
    assert env["AWS_DEFAULT_REGION"] == "eu-west-3"
    assert not any("SECRET" in name or "ACCESS_KEY" in name for name in env)


def test_every_value_of_the_command_follows_the_settings(make_settings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(api_host="0.0.0.0", mlflow_port=6123, mlflow_database="ignored_in_embedded")
    command = server_command(settings)
    assert (option(command, "--host"), option(command, "--port")) == ("0.0.0.0", "6123")
    assert server_url(settings) == "http://127.0.0.1:6123"
    assert server_url(make_settings(api_host="::1", mlflow_port=6124)) == "http://[::1]:6124"
    # Without an endpoint the production server talks to AWS itself: no endpoint variable at all.
    aws = make_settings(profile="production", database_url="postgresql://h", redis_url="redis://h")
    assert "MLFLOW_S3_ENDPOINT_URL" not in server_environment(aws)


def test_print_shows_the_command_and_environment_with_the_password_hidden(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "platform"
    for name, value in {
        "PROFILE": "production",
        "DATA_ROOT": str(root),
        "DATABASE_URL": "postgresql://mlflow:s3cret@127.0.0.1:5432",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "S3_ENDPOINT_URL": "http://127.0.0.1:9000",
    }.items():
        monkeypatch.setenv(f"CAREASSIST_{name}", value)

    assert main(["--print"]) == 0
    out = capsys.readouterr().out
    assert "s3cret" not in out
    assert "--backend-store-uri postgresql://mlflow:***@127.0.0.1:5432/careassist_mlflow" in out
    assert "MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false" in out.splitlines()
    assert "MLFLOW_S3_ENDPOINT_URL=http://127.0.0.1:9000" in out.splitlines()
    assert not root.exists(), "--print must not prepare anything"


def test_bad_settings_stop_before_anything_starts(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CAREASSIST_PROFILE", "production")
    assert main([]) == 2
    assert "the production profile needs CAREASSIST_DATABASE_URL and CAREASSIST_REDIS_URL" in capsys.readouterr().err


def test_an_unreachable_database_is_reported_and_the_server_not_started(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CAREASSIST_PROFILE", "production")
    monkeypatch.setenv("CAREASSIST_DATA_ROOT", str(tmp_path))
    monkeypatch.setenv("CAREASSIST_DATABASE_URL", f"postgresql://postgres@127.0.0.1:{closed_port()}")
    monkeypatch.setenv("CAREASSIST_REDIS_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setattr(os, "execvpe", lambda *args: pytest.fail("the server must not start"))
    assert main([]) == 1
    assert "CAREASSIST_DATABASE_URL: cannot connect to PostgreSQL" in capsys.readouterr().err


def test_main_prepares_the_embedded_folders_then_replaces_itself_with_the_server(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CAREASSIST_DATA_ROOT", str(tmp_path / "platform"))
    monkeypatch.setenv("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "true")
    calls: list[tuple[str, list[str], dict[str, str]]] = []
    monkeypatch.setattr(os, "execvpe", lambda file, args, env: calls.append((file, args, env)))

    main([])

    [(file, args, env)] = calls
    assert file == sys.executable and args[2:4] == ["mlflow", "server"]
    assert env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false"
    assert env["CAREASSIST_DATA_ROOT"] == str(tmp_path / "platform"), "the caller's environment is kept"
    assert (tmp_path / "platform" / "mlflow" / "artifacts").is_dir()


def test_prepare_stores_names_the_folder_it_cannot_create(make_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    with pytest.raises(MlflowServerError, match=f"cannot create {blocker}/mlflow"):
        prepare_stores(make_settings(data_root=blocker))


def test_wait_until_ready_returns_once_health_answers(health_endpoint) -> None:  # type: ignore[no-untyped-def]
    wait_until_ready(health_endpoint("/health").url + "/", timeout=5)


def test_wait_until_ready_names_the_url_and_the_last_answer(health_endpoint) -> None:  # type: ignore[no-untyped-def]
    endpoint = health_endpoint("/health")
    url, endpoint.status = endpoint.url, 503
    with pytest.raises(MlflowServerError, match=rf"{url}/health did not answer within 0.5 s: HTTP 503"):
        wait_until_ready(url, timeout=0.5)
    with pytest.raises(MlflowServerError, match=r"did not answer within 0.3 s: .*refused"):
        wait_until_ready(f"http://127.0.0.1:{closed_port()}", timeout=0.3)


def test_wait_until_ready_stops_when_the_server_process_has_exited() -> None:
    process = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    process.wait()
    with pytest.raises(MlflowServerError, match="exited with code 3"):
        wait_until_ready(f"http://127.0.0.1:{closed_port()}", timeout=30, process=process)


def test_start_script_runs_the_module_from_the_repo_venv(tmp_path: Path) -> None:
    env = {**os.environ, "CAREASSIST_DATA_ROOT": str(tmp_path), "CAREASSIST_MLFLOW_PORT": "5123"}
    out = subprocess.run(
        ["bash", str(REPO / "mlflow" / "start.sh"), "--print"],
        check=False,
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    command = out.stdout.splitlines()[-1]
    assert command.startswith(f"{REPO / '.venv' / 'bin' / 'python'} -m mlflow server --host 127.0.0.1 --port 5123 ")


def test_the_production_env_example_is_a_valid_production_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    for line in (REPO / "mlflow" / "production.env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            name, value = line.split("=", 1)
            monkeypatch.setenv(name, value)
    from careassist.settings import load_settings

    settings = load_settings()
    assert settings.is_production
    assert server_environment(settings)["MLFLOW_S3_ENDPOINT_URL"] == settings.s3_endpoint_url


def test_importing_the_module_loads_no_heavy_library() -> None:
    code = (
        "import sys, careassist.mlflow_server;"
        "print([m for m in ('mlflow', 'boto3', 'psycopg2', 'pandas') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
