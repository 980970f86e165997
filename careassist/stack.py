"""The whole platform on one machine: ``healthcare-ai up``, ``down``, ``status`` and ``smoke``.

``up`` prepares the profile's stores, starts the MLflow UI, runs the training pipeline once (a real
Airflow run, ``airflow dags test``) to a production model, then starts Airflow (API server with its
UI, scheduler with the LocalExecutor, DAG processor) and the assistant's API, each in a process
group of its own in the background. It waits until every one answers its health check, then prints
the URLs, the Airflow login and the API key, and writes them to ``<data root>/run/access.json``
(readable by its owner only). ``down`` stops every group it started, politely first.

Nothing here is specific to the embedded profile: with ``CAREASSIST_PROFILE=production`` the same
commands run against PostgreSQL, Redis and the S3 endpoint of the settings.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from careassist.settings import Settings

#: How long each component may take to answer its health check after it starts.
READY_TIMEOUT_SECONDS = 180.0
#: How long ``down`` waits for a group after SIGTERM before it sends SIGKILL.
STOP_TIMEOUT_SECONDS = 30.0
#: The training pipeline's own timeout inside ``up``.
PIPELINE_TIMEOUT_SECONDS = 1800.0
TRAINING_DAG = "training_pipeline"

Say = Callable[[str], None]


class StackError(RuntimeError):
    """A component could not be started or stopped; the message names it and its log."""


@dataclass(frozen=True)
class Component:
    """One long-running process group of the platform and how to tell it is healthy."""

    name: str
    command: list[str]
    environment: Callable[[], dict[str, str]] = field(repr=False)  # built at start: it may create files
    port: int
    health_path: str
    healthy: Callable[[int, bytes], bool] = field(repr=False, default=lambda status, _: status == 200)
    #: The setting that chooses ``port`` (named when the port is taken).
    port_setting: str = ""


# -- where things are -------------------------------------------------------------------------
def run_dir(settings: Settings) -> Path:
    return settings.root / "run"


def log_dir(settings: Settings) -> Path:
    return settings.root / "logs"


def access_file(settings: Settings) -> Path:
    return run_dir(settings) / "access.json"


def local_host(settings: Settings) -> str:
    """The address a client on this machine uses (a wildcard bind is reached on loopback)."""
    host = settings.api_host
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


def url(settings: Settings, port: int, path: str = "") -> str:
    return f"http://{local_host(settings)}:{port}{path}"


def _private_file(path: Path, make: Callable[[], str]) -> str:
    """The content of ``path``, created once with ``make()`` and mode 600 (never rewritten)."""
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = make()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")
    return value


def airflow_password(settings: Settings) -> str:
    """The Airflow user's password, in the simple auth manager's passwords file (made once)."""
    from careassist.orchestration import AIRFLOW_ADMIN

    path = settings.airflow_home / "simple_auth_manager_passwords.json"
    text = _private_file(path, lambda: json.dumps({AIRFLOW_ADMIN: secrets.token_urlsafe(12)}))
    password: str = json.loads(text)[AIRFLOW_ADMIN]
    return password


def airflow_stack_environment(settings: Settings) -> dict[str, str]:
    """Airflow's environment for long-running components: one API server worker, shared secrets."""
    from careassist.orchestration import run_environment

    home = settings.airflow_home
    base = url(settings, settings.airflow_port)
    return run_environment(settings) | {
        "AIRFLOW__API__WORKERS": "1",
        # Each LocalExecutor worker is a ~140 MB process; the platform's DAGs run a task or two at a time.
        "AIRFLOW__CORE__PARALLELISM": "2",
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "2",
        "AIRFLOW__API__BASE_URL": base,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base}/execution/",
        # The scheduler's task processes authenticate to the API server: both need the same secrets.
        "AIRFLOW__API_AUTH__JWT_SECRET": _private_file(home / "jwt-secret", lambda: secrets.token_urlsafe(32)),
        "AIRFLOW__API__SECRET_KEY": _private_file(home / "api-secret-key", lambda: secrets.token_urlsafe(32)),
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "60",
    }


def components(settings: Settings) -> list[Component]:
    """The long-running processes of ``up``, in start order."""
    from careassist.mlflow_server import server_command, server_environment
    from careassist.orchestration import airflow_command
    from careassist.serve import gunicorn_command, service_environment

    def airflow() -> dict[str, str]:
        return airflow_stack_environment(settings)

    host = settings.api_host

    def airflow_healthy(status: int, body: bytes) -> bool:
        """The API server's health view: the metadata DB, the scheduler and the DAG processor."""
        if status != 200:
            return False
        report = json.loads(body)
        return all(report.get(part, {}).get("status") == "healthy" for part in ("metadatabase", "scheduler", "dag_processor"))

    return [
        # One worker: on one machine the UI and a pipeline are its only clients (each is ~400 MB).
        Component("mlflow", server_command(settings, workers=1), lambda: {**os.environ, **server_environment(settings)},
                  settings.mlflow_port, "/health", port_setting="mlflow_port"),
        Component("airflow-scheduler", airflow_command(["scheduler"]), airflow, 0, ""),
        Component("airflow-dag-processor", airflow_command(["dag-processor"]), airflow, 0, ""),
        Component("airflow-api-server", airflow_command(["api-server", "-H", host, "-p", str(settings.airflow_port)]),
                  airflow, settings.airflow_port, "/api/v2/monitor/health", airflow_healthy, "airflow_port"),
        Component("assistant", gunicorn_command(), lambda: service_environment(settings, development_key_anywhere=True),
                  settings.api_port, "/readyz", port_setting="api_port"),
    ]


# -- process groups ---------------------------------------------------------------------------
def _pid_file(settings: Settings, name: str) -> Path:
    return run_dir(settings) / f"{name}.pid"


def running_pid(settings: Settings, name: str) -> int | None:
    """The process group of ``name`` if any of it is alive (a stale pid file is removed)."""
    path = _pid_file(settings, name)
    try:
        pid = int(path.read_text(encoding="utf-8").strip())
    except (FileNotFoundError, ValueError):
        return None
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # a child of this process that has exited is reaped, not counted
    if not _group_members(pid):
        path.unlink(missing_ok=True)
        return None
    return pid


def _port_taken(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def start(settings: Settings, component: Component) -> int:
    """Start ``component`` in a new session (its own process group) with its output in its log."""
    log = log_dir(settings) / f"{component.name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    run_dir(settings).mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        process = subprocess.Popen(
            component.command, env=component.environment(), stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True, cwd=settings.root,
        )
    _pid_file(settings, component.name).write_text(f"{process.pid}\n", encoding="utf-8")
    return process.pid


#: Every URL here is on this machine: requests never go through a configured HTTP proxy.
_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _fetch(request: urllib.request.Request, timeout: float) -> tuple[int, bytes]:
    """Status and body; status 0 (and the reason as the body) when nothing answered."""
    try:
        with _LOCAL.open(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        return 0, str(exc).encode()


def _get(address: str, timeout: float = 5.0) -> tuple[int, bytes]:
    return _fetch(urllib.request.Request(address), timeout)


def wait_ready(settings: Settings, component: Component, timeout: float = READY_TIMEOUT_SECONDS) -> float:
    """Seconds until ``component`` answers its health check; raises when it exits or times out."""
    started = time.monotonic()
    log = log_dir(settings) / f"{component.name}.log"
    while True:
        if running_pid(settings, component.name) is None:
            raise StackError(f"{component.name} exited during start; end of {log}:\n{tail(log)}")
        if not component.health_path:
            return time.monotonic() - started
        status, body = _get(url(settings, component.port, component.health_path))
        with contextlib.suppress(ValueError):
            if component.healthy(status, body):
                return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise StackError(
                f"{component.name} did not answer {component.health_path} on port {component.port} within"
                f" {timeout:.0f} s (last status {status or 'no answer'}); end of {log}:\n{tail(log)}"
            )
        time.sleep(0.5)


def tail(path: Path, lines: int = 25) -> str:
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def _group_members(pid: int) -> list[Any]:
    """Every live process of the group led by ``pid`` (psutil objects; a zombie is over)."""
    import psutil

    members = []
    for process in psutil.process_iter(["pid", "status"]):
        with contextlib.suppress(psutil.Error, OSError):
            if process.info["status"] != psutil.STATUS_ZOMBIE and os.getpgid(process.pid) == pid:
                members.append(process)
    return members


def group_rss_bytes(pid: int) -> int:
    import psutil

    total = 0
    for process in _group_members(pid):
        with contextlib.suppress(psutil.Error):
            total += process.memory_info().rss
    return int(total)


def stop_group(pid: int, timeout: float = STOP_TIMEOUT_SECONDS) -> str:
    """SIGTERM to the group, SIGKILL to what is left after ``timeout``; how it ended."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _group_members(pid):
            return "stopped"
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    return "killed after SIGTERM timed out"


# -- the commands -----------------------------------------------------------------------------
def run_pipeline(settings: Settings, say: Say) -> float:
    """Airflow's schema migrated, then one real run of the training DAG; its duration."""
    from careassist.orchestration import airflow_command, run_environment

    log = log_dir(settings) / "pipeline.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    for step in (["db", "migrate"], ["dags", "test", TRAINING_DAG]):
        with log.open("ab") as out:
            done = subprocess.run(
                airflow_command(step), env=run_environment(settings), stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, timeout=PIPELINE_TIMEOUT_SECONDS, check=False, cwd=settings.root,
            )
        if done.returncode != 0:
            raise StackError(f"airflow {' '.join(step)} exited with {done.returncode}; end of {log}:\n{tail(log)}")
    seconds = time.monotonic() - started
    say(f"training pipeline: DAG {TRAINING_DAG} succeeded in {seconds:.0f} s (log: {log})")
    return seconds


def up(settings: Settings, *, pipeline: bool = True, say: Say = print) -> dict[str, Any]:
    """Start whatever of the platform is not running; the access details (also written to a file)."""
    from careassist.bootstrap import initialise
    from careassist.mlflow_server import prepare_stores
    from careassist.orchestration import AIRFLOW_ADMIN
    from careassist.serve import development_key

    started = time.monotonic()
    plan = components(settings)
    for component in plan:
        if component.port and running_pid(settings, component.name) is None and _port_taken(local_host(settings), component.port):
            raise StackError(
                f"port {component.port} for {component.name} is already in use by another program:"
                f" stop it, or choose another port with CAREASSIST_{component.port_setting.upper()}"
            )
    initialise(settings)
    prepare_stores(settings)
    password = airflow_password(settings)
    first, rest = plan[0], plan[1:]
    _start_and_wait(settings, [first], say)  # the pipeline registers through the server when one is configured
    if pipeline:
        run_pipeline(settings, say)
    _start_and_wait(settings, rest, say)

    api_key = development_key(settings)[0] if not settings.api_key_digests else "(one of the configured keys)"
    access = {
        "profile": settings.profile,
        "data_root": str(settings.root),
        "airflow": {"url": url(settings, settings.airflow_port), "user": AIRFLOW_ADMIN, "password": password},
        "mlflow": {"url": url(settings, settings.mlflow_port),
                   "model": url(settings, settings.mlflow_port, f"/#/models/{settings.model_name}")},
        "assistant": {"url": url(settings, settings.api_port), "docs": url(settings, settings.api_port, "/openapi.json"),
                      "api_key": api_key},
        "logs": str(log_dir(settings)),
        "seconds_to_ready": round(time.monotonic() - started, 1),
    }
    path = access_file(settings)
    path.unlink(missing_ok=True)
    _private_file(path, lambda: json.dumps(access, indent=2))
    say(describe(access))
    return access


def _start_and_wait(settings: Settings, plan: list[Component], say: Say) -> None:
    fresh = [c for c in plan if running_pid(settings, c.name) is None]
    for component in fresh:
        start(settings, component)
    for component in plan:
        if component in fresh:
            try:
                seconds = wait_ready(settings, component)
            except StackError:
                down(settings, say=lambda _: None)
                raise
            say(f"{component.name}: ready in {seconds:.0f} s (pid {running_pid(settings, component.name)})")
        else:
            say(f"{component.name}: already running (pid {running_pid(settings, component.name)})")


def describe(access: dict[str, Any]) -> str:
    airflow, mlflow, assistant = access["airflow"], access["mlflow"], access["assistant"]
    return "\n".join([
        f"CareAssist platform is up (profile {access['profile']}, data under {access['data_root']})",
        f"  Airflow UI     {airflow['url']}   login {airflow['user']} / {airflow['password']}",
        f"  MLflow UI      {mlflow['url']}   model page {mlflow['model']}",
        f"  Assistant API  {assistant['url']}   docs {assistant['docs']}",
        f"  API key        {assistant['api_key']}",
        (f'  try: curl -s -H "Authorization: Bearer {assistant["api_key"]}" -H "Content-Type: application/json"'
        f""" -d '{{"message":"How can I help my mother get out of bed safely?"}}' {assistant['url']}/v1/assist"""),
        f"  these details are in {access['data_root']}/run/access.json; logs in {access['logs']}; stop with: make down",
    ])


def down(settings: Settings, *, say: Say = print) -> dict[str, str]:
    """Stop every component ``up`` started, the last started first; what happened to each."""
    outcome: dict[str, str] = {}
    for name in reversed([component.name for component in components(settings)]):
        pid = running_pid(settings, name)
        if pid is None:
            continue
        outcome[name] = stop_group(pid)
        _pid_file(settings, name).unlink(missing_ok=True)
        say(f"{name}: {outcome[name]}")
    if not outcome:
        say("nothing of the platform is running under " + str(settings.root))
    return outcome


def status(settings: Settings) -> list[dict[str, Any]]:
    """Each component: pid, resident memory of its whole group, and its health check."""
    rows = []
    for component in components(settings):
        pid = running_pid(settings, component.name)
        row: dict[str, Any] = {"component": component.name, "pid": pid, "rss_mb": None, "health": "stopped"}
        if pid is not None:
            row["rss_mb"] = round(group_rss_bytes(pid) / 2**20)
            if component.health_path:
                code, body = _get(url(settings, component.port, component.health_path))
                with contextlib.suppress(ValueError):
                    row["health"] = "healthy" if component.healthy(code, body) else f"unhealthy ({code or 'no answer'})"
            else:
                row["health"] = "running"
        rows.append(row)
    return rows


# -- the smoke test ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def _json(address: str, *, method: str = "GET", body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(address, data=data, method=method,
                                     headers={"Content-Type": "application/json", **(headers or {})})
    status, raw = _fetch(request, timeout=30)
    try:
        return status, json.loads(raw or b"null")
    except ValueError:
        return status, raw.decode(errors="replace")[:200]


def smoke(settings: Settings, api_key: str | None = None) -> list[Check]:
    """Ask each running service the question that proves it works, through its own public API.

    The API key is the one ``up`` wrote down unless given (when the service has configured keys).
    """
    access = json.loads(access_file(settings).read_text(encoding="utf-8")) if access_file(settings).exists() else None
    if access is None:
        return [Check("access", False, f"{access_file(settings)} is missing: run `make up` first")]
    if api_key:
        access["assistant"]["api_key"] = api_key
    checks = [_smoke_airflow(access), *_smoke_registry_and_assistant(settings, access)]
    return checks


def _smoke_airflow(access: dict[str, Any]) -> Check:
    base = access["airflow"]["url"]
    status, token = _json(f"{base}/auth/token", method="POST",
                          body={"username": access["airflow"]["user"], "password": access["airflow"]["password"]})
    if status not in (200, 201) or not isinstance(token, dict):
        return Check("airflow", False, f"POST /auth/token answered {status}: {token}")
    query = urllib.parse.urlencode({"order_by": "-run_after", "limit": 1})
    status, runs = _json(f"{base}/api/v2/dags/{TRAINING_DAG}/dagRuns?{query}",
                         headers={"Authorization": f"Bearer {token['access_token']}"})
    if status != 200 or not runs.get("dag_runs"):
        return Check("airflow", False, f"GET dagRuns of {TRAINING_DAG} answered {status}: {runs}")
    run = runs["dag_runs"][0]
    return Check("airflow", run["state"] == "success",
                 f"REST API: {TRAINING_DAG} run {run['dag_run_id']} is {run['state']} ({runs['total_entries']} run(s))")


def _smoke_registry_and_assistant(settings: Settings, access: dict[str, Any]) -> list[Check]:
    base = access["mlflow"]["url"]
    query = urllib.parse.urlencode({"name": settings.model_name, "alias": "production"})
    status, found = _json(f"{base}/api/2.0/mlflow/registered-models/alias?{query}")
    version = found.get("model_version", {}).get("version") if status == 200 and isinstance(found, dict) else None
    registry = Check("mlflow", version is not None,
                     f"REST API: {settings.model_name}@production is version {version}" if version
                     else f"GET registered-models/alias answered {status}: {found}")
    api = access["assistant"]["url"]
    key = access["assistant"]["api_key"]
    headers = {"Authorization": f"Bearer {key}"}
    status, model = _json(f"{api}/v1/model", headers=headers)
    served = model.get("version") if status == 200 and isinstance(model, dict) else None
    status, answer = _json(f"{api}/v1/assist", method="POST", headers=headers,
                           body={"message": "How can I help my mother get out of bed safely?"})
    steps = answer.get("response", {}).get("steps", []) if status == 200 and isinstance(answer, dict) else []
    answered = len(steps) >= 3
    detail = (f"POST /v1/assist: {answer.get('category')}, {len(steps)} numbered steps, from version {served}"
              if answered else f"POST /v1/assist answered {status}: {str(answer)[:200]}")
    same = served is not None and str(served) == str(version)
    assistant = Check("assistant", answered and same,
                      detail + ("" if same else f"; serves version {served}, production is {version}"))
    return [registry, assistant]


def main_exit(checks: list[Check]) -> int:
    for check in checks:
        print(f"{'PASS' if check.ok else 'FAIL'}  {check.name:10} {check.detail}")
    return 0 if checks and all(c.ok for c in checks) else 1

