"""Airflow's configuration for a profile, derived from the settings, and a launcher for its CLI.

``python -m careassist.orchestration <airflow arguments>`` runs ``airflow`` with the environment of
the active profile: metadata in SQLite (embedded) or PostgreSQL (production), the repository's
``dags/`` and ``plugins/`` folders, no example DAGs and a small worker pool.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from careassist.settings import Settings

#: The checkout that holds dags/ and plugins/ beside the package.
REPO_ROOT = Path(__file__).resolve().parent.parent
DAGS_FOLDER = REPO_ROOT / "dags"
PLUGINS_FOLDER = REPO_ROOT / "plugins"
#: Tasks run at once; Airflow's default forks 32 workers, too many for a small machine.
PARALLELISM = 4


def airflow_environment(settings: Settings) -> dict[str, str]:
    """The AIRFLOW__* variables of the profile (added to the caller's environment)."""
    home = settings.airflow_home
    environment = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PLUGINS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": str(PARALLELISM),
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": str(PARALLELISM),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "60",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": settings.airflow_db_uri,
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "True",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(settings.airflow_port),
        # The embedded profile is a single-user, loopback-only install: no login page.
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False" if settings.is_production else "True",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "simple_auth_manager_passwords.json"),
        "AIRFLOW__WEBSERVER__EXPOSE_CONFIG": "False",
        "SCARF_ANALYTICS": "false",
        "DO_NOT_TRACK": "true",
    }
    # Tasks run in child processes: the launcher's settings travel with them, every field.
    environment.update(settings.environment())
    return environment


def airflow_command(args: Sequence[str]) -> list[str]:
    """``airflow`` from the running interpreter's environment, with the given arguments."""
    binary = Path(sys.executable).with_name("airflow")
    return [str(binary) if binary.exists() else (shutil.which("airflow") or "airflow"), *args]


def run_environment(settings: Settings) -> dict[str, str]:
    """The whole environment an Airflow process of this profile runs with (venv bin first on PATH)."""
    environment = {**os.environ, **airflow_environment(settings)}
    environment["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environment.get('PATH', '')}"
    return environment


def main(argv: Sequence[str] | None = None) -> int:
    from careassist.settings import SettingsError, get_settings

    try:
        settings = get_settings()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    settings.airflow_home.mkdir(parents=True, exist_ok=True)
    command = airflow_command(list(sys.argv[1:] if argv is None else argv))
    os.execvpe(command[0], command, run_environment(settings))
    return 0  # pragma: no cover - exec does not return


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


#: What every task of the platform's DAGs shares (owner, retries).
DEFAULT_ARGS = {
    "owner": "careassist-mlops",
    "retries": 2,
    "retry_delay": timedelta(seconds=10),
    "retry_exponential_backoff": True,
}
#: The raw-data asset: a change in the raw location triggers the training pipeline.
RAW_ASSET_NAME = "careassist_raw_conversations"
RAW_ASSET_URI = "careassist://raw/conversations"
