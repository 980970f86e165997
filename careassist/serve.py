"""Starting the assistant's HTTP service under gunicorn with the active profile's settings.

``healthcare-ai serve`` (and ``make serve``) runs gunicorn with ``serving/gunicorn_conf.py`` from the
checkout. On the embedded profile with no key configured it creates a development API key once
(``<data root>/serving/dev-api-key``, readable by its owner only) and accepts its digest, so the
service is usable at once and still never runs without authentication.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from careassist.settings import Settings

REPO_ROOT = Path(__file__).resolve().parent.parent
GUNICORN_CONFIG = REPO_ROOT / "serving" / "gunicorn_conf.py"
DEV_KEY_FILE = "dev-api-key"
DEV_DIGESTS_FILE = "dev-api-keys.txt"


class ServeError(RuntimeError):
    """The service cannot be started as configured; the message says what to set."""


def serving_dir(settings: Settings) -> Path:
    return settings.root / "serving"


def development_key(settings: Settings) -> tuple[str, Path]:
    """The embedded profile's development key and the digests file that accepts it (made once)."""
    from careassist.access import create_key, digest_key

    folder = serving_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    key_file, digests_file = folder / DEV_KEY_FILE, folder / DEV_DIGESTS_FILE
    if key_file.exists():
        key = key_file.read_text(encoding="utf-8").strip()
    else:
        key, _ = create_key()
        descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(key + "\n")
    digests_file.write_text(f"# development key of {settings.root}\n{digest_key(key)}\n", encoding="utf-8")
    return key, digests_file


def service_environment(settings: Settings, *, development_key_anywhere: bool = False) -> dict[str, str]:
    """The variables gunicorn's workers start with: the settings, a key, a metrics folder.

    With no key configured, the embedded profile gets its development key; the production profile
    refuses, unless ``development_key_anywhere`` (``healthcare-ai up`` on one machine) says otherwise.
    """
    environment = {**os.environ, **settings.environment()}
    if not settings.api_key_digests:
        if settings.is_production and not development_key_anywhere:
            raise ServeError(
                "no API key is configured: set CAREASSIST_API_KEY_HASHES or CAREASSIST_API_KEYS_FILE"
                " (create one with `python -m careassist.access`)"
            )
        _, digests_file = development_key(settings)
        environment["CAREASSIST_API_KEYS_FILE"] = str(digests_file)
    metrics_dir = serving_dir(settings) / "prometheus"
    shutil.rmtree(metrics_dir, ignore_errors=True)  # values of a previous run must not be merged in
    metrics_dir.mkdir(parents=True, exist_ok=True)
    environment["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    environment.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    environment.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    environment.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), environment.get("PYTHONPATH", "")]))
    return environment


def gunicorn_command(extra: list[str] | None = None) -> list[str]:
    binary = Path(sys.executable).with_name("gunicorn")
    program = str(binary) if binary.exists() else (shutil.which("gunicorn") or "gunicorn")
    return [program, "-c", str(GUNICORN_CONFIG), *(extra or []), "serving.wsgi:app"]


def run(settings: Settings, extra: list[str] | None = None) -> int:
    """Replace this process by gunicorn serving the assistant."""
    environment = service_environment(settings)
    command = gunicorn_command(extra)
    print(f"assistant API on http://{settings.api_host}:{settings.api_port} (profile {settings.profile})", flush=True)
    if "CAREASSIST_API_KEYS_FILE" in environment and not settings.api_keys_file:
        print(f"development API key in {serving_dir(settings) / DEV_KEY_FILE}", flush=True)
    os.chdir(REPO_ROOT)
    os.execvpe(command[0], command, environment)
    return 0  # pragma: no cover - exec does not return
