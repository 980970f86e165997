"""The MLflow tracking server for either profile, its command and environment derived from settings.

``python -m careassist.mlflow_server`` prepares the profile's stores and then replaces itself with
``mlflow server`` (foreground, so ``make`` or a process manager owns it); ``--print`` shows what
would run. Artifacts are proxied: clients talk HTTP to the server only, the server alone reads and
writes ``settings.artifacts_location``. Job workers (MLflow's Huey runner for GenAI jobs) are off:
the platform runs no server-side jobs and they would cost a process and a queue per server.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from careassist.settings import SettingsError, get_settings

if TYPE_CHECKING:
    import subprocess

    from careassist.settings import Settings

#: Worker processes per profile: SQLite takes one writer at a time, PostgreSQL serves two well.
WORKERS = {"embedded": 1, "production": 2}

_PASSWORD_IN_URL = re.compile(r"(://[^:/@\s]+):[^@/\s]+@")


class MlflowServerError(RuntimeError):
    """The tracking server could not be prepared or did not become ready; the message names the URL."""


def server_command(settings: Settings, workers: int | None = None) -> list[str]:
    """``mlflow server`` with the profile's backend store and proxied artifacts, run by this Python
    (``workers`` processes, by default the profile's)."""
    return [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--host",
        settings.api_host,
        "--port",
        str(settings.mlflow_port),
        "--workers",
        str(workers or WORKERS[settings.profile]),
        "--backend-store-uri",
        settings.mlflow_backend_uri,
        "--serve-artifacts",
        "--artifacts-destination",
        settings.artifacts_location,
    ]


def server_environment(settings: Settings) -> dict[str, str]:
    """Variables the server needs on top of the caller's environment (credentials stay there)."""
    env = {
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        # A health platform sends no usage data to third parties.
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
    if settings.is_production:
        env["AWS_DEFAULT_REGION"] = settings.s3_region
        if settings.s3_endpoint_url:
            env["MLFLOW_S3_ENDPOINT_URL"] = settings.s3_endpoint_url
    return env


def server_url(settings: Settings) -> str:
    """Where a client on this machine reaches the server (a wildcard bind is reached on loopback)."""
    host = settings.api_host
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.mlflow_port}"


def redact(text: str) -> str:
    """``text`` with the password of any URL in it replaced by ``***``."""
    return _PASSWORD_IN_URL.sub(r"\1:***@", text)


def prepare_stores(settings: Settings) -> dict[str, Any]:
    """Create what the server needs and will not create itself; idempotent.

    Embedded: the folders of the SQLite file and of the artifacts. Production: the PostgreSQL
    database (with the platform's others) and the bucket.
    """
    done: dict[str, Any] = {"profile": settings.profile, "backend": redact(settings.mlflow_backend_uri)}
    if settings.is_production:
        from careassist.bootstrap import create_databases
        from careassist.storage import ensure_bucket

        done["databases_created"] = create_databases(settings)
        ensure_bucket(settings)
        done["bucket"] = settings.s3_bucket
    else:
        for folder in (settings.root / "mlflow", settings.root / "mlflow" / "artifacts"):
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise MlflowServerError(f"cannot create {folder}: {exc.strerror}") from None
    done["artifacts"] = settings.artifacts_location
    return done


def wait_until_ready(url: str, timeout: float, *, process: subprocess.Popen[Any] | None = None) -> None:
    """Poll ``{url}/health`` until it answers 200; fail early when ``process`` (the server) exits."""
    health = f"{url.rstrip('/')}/health"
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    # A health check of a local or in-cluster server never goes through an HTTP proxy.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    while True:
        if process is not None and process.poll() is not None:
            raise MlflowServerError(f"the MLflow server for {url} exited with code {process.returncode}")
        try:
            with opener.open(health, timeout=2) as response:
                if response.status == 200:
                    return
                last = f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            last = str(getattr(exc, "reason", exc))
        if time.monotonic() >= deadline:
            raise MlflowServerError(f"{health} did not answer within {timeout:g} s: {last}")
        time.sleep(0.2)


def describe(settings: Settings) -> str:
    """The environment and command, shell-quoted, with passwords hidden."""
    env = server_environment(settings)
    lines = [f"{name}={shlex.quote(value)}" for name, value in sorted(env.items())]
    lines.append(shlex.join(server_command(settings)))
    return redact("\n".join(lines))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m careassist.mlflow_server",
        description="Prepare the profile's stores and run the MLflow tracking server in the foreground.",
        epilog="The profile and every location come from CAREASSIST_* environment variables.",
    )
    parser.add_argument("--print", action="store_true", help="show the environment and command; start nothing")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = get_settings()
        if args.print:
            print(describe(settings))
            return 0
        prepare_stores(settings)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (ConnectionError, RuntimeError) as exc:
        # The package's errors (and bootstrap's ConnectionError) are written for operators; any
        # other error is a bug and keeps its traceback.
        if not (isinstance(exc, ConnectionError) or type(exc).__module__.startswith("careassist.")):
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 1
    command = server_command(settings)
    print(f"MLflow server ({settings.profile}) on {server_url(settings)}", file=sys.stderr, flush=True)
    os.execvpe(command[0], command, {**os.environ, **server_environment(settings)})


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
