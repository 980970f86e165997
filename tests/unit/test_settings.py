from __future__ import annotations

from pathlib import Path

import pytest

from careassist.cli import main
from careassist.settings import SettingsError, get_settings, load_settings

pytestmark = pytest.mark.unit


def test_embedded_is_the_default_and_keeps_everything_under_the_data_root(tmp_path: Path) -> None:
    settings = load_settings(data_root=tmp_path)
    assert settings.profile == "embedded"
    root = str(tmp_path.resolve())
    for location in (
        settings.raw_location,
        settings.datasets_location,
        settings.artifacts_location,
        settings.offline_store_location,
        settings.feast_registry_uri,
        settings.feast_online_path,
    ):
        assert location.startswith(root), location
    assert settings.mlflow_backend_uri == f"sqlite:///{root}/mlflow/mlflow.db"
    assert settings.airflow_db_uri.startswith("sqlite:///" + root)
    assert settings.model_uri == "models:/healthcare-assistant@production"


def test_production_is_chosen_by_environment_variables_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAREASSIST_PROFILE", "production")
    monkeypatch.setenv("CAREASSIST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432")
    monkeypatch.setenv("CAREASSIST_REDIS_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("CAREASSIST_S3_BUCKET", "artifacts")
    settings = get_settings()
    assert settings.is_production
    assert settings.mlflow_backend_uri == "postgresql://postgres@127.0.0.1:5432/careassist_mlflow"
    assert settings.airflow_db_uri == "postgresql+psycopg2://postgres@127.0.0.1:5432/careassist_airflow"
    assert settings.datasets_location == "s3://artifacts/datasets"
    assert settings.artifacts_location == "s3://artifacts/mlflow-artifacts"
    assert get_settings() is settings  # built once


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("CAREASSIST_PROFILE", "staging", "CAREASSIST_PROFILE='staging' is not a known profile"),
        ("CAREASSIST_DATABASE_URL", "mysql://db:3306", "CAREASSIST_DATABASE_URL='mysql://db:3306' is not a valid URL"),
        ("CAREASSIST_DATABASE_URL", "postgresql://h:port5432", "CAREASSIST_DATABASE_URL='postgresql://h:port5432' has a malformed port"),
        ("CAREASSIST_REDIS_URL", "127.0.0.1:6379", "CAREASSIST_REDIS_URL='127.0.0.1:6379' is not a valid URL"),
        ("CAREASSIST_S3_ENDPOINT_URL", "ftp://minio", "CAREASSIST_S3_ENDPOINT_URL='ftp://minio' is not a valid URL"),
        ("CAREASSIST_API_PORT", "99999", "CAREASSIST_API_PORT"),
        ("CAREASSIST_DATASETS_URI", "gs://bucket/x", "neither a local folder nor an s3:// URI"),
    ],
)
def test_a_bad_setting_fails_with_a_message_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match="invalid settings") as info:
        load_settings()
    assert expected in str(info.value)


def test_production_without_its_services_names_the_missing_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAREASSIST_PROFILE", "production")
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert "CAREASSIST_DATABASE_URL and CAREASSIST_REDIS_URL" in str(info.value)


def test_the_cli_reports_a_bad_setting_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CAREASSIST_PROFILE", "prod")
    assert main(["settings"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: invalid settings")
    assert "CAREASSIST_PROFILE='prod'" in err
    assert "Traceback" not in err


def test_settings_command_hides_credentials(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CAREASSIST_PROFILE", "production")
    monkeypatch.setenv("CAREASSIST_DATABASE_URL", "postgresql://admin:s3cret@db.internal:5432")
    monkeypatch.setenv("CAREASSIST_REDIS_URL", "redis://:hunter2@cache:6379/0")
    assert main(["settings"]) == 0
    out = capsys.readouterr().out
    assert "s3cret" not in out and "hunter2" not in out
    assert "db.internal:5432" in out


def test_settings_travel_to_a_child_process_as_environment_variables(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    built = load_settings(
        profile="production",
        data_root=tmp_path / "root",
        database_url="postgresql://postgres@127.0.0.1:5432",
        redis_url="redis://127.0.0.1:6379/3",
        mlflow_database="t_mlflow_x",
        gate_min_macro_f1=0.9,
        include_public_data=True,
    )
    environment = built.environment()
    assert environment["CAREASSIST_DATA_ROOT"] == str((tmp_path / "root").resolve())
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    rebuilt = load_settings()
    assert rebuilt.environment() == environment
    assert (rebuilt.mlflow_backend_uri, rebuilt.gate_min_macro_f1) == (built.mlflow_backend_uri, 0.9)
